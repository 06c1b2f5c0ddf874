package io.onceflow.runtime.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One owner per job on a Hadoop file system, by HDFS leases: the owner keeps the lock file of its
 * <em>generation</em>, {@code _owner.lock.<n>}, open for writing, and its client renews the file's lease
 * while the process lives. The owner is whoever holds the highest generation.
 *
 * <ul>
 * <li>A new start probes the highest generation by creating it again (never overwriting): while its
 * owner's lease lives the namenode refuses ({@code AlreadyBeingCreatedException}) and the start is
 * refused, naming the owner.</li>
 * <li>When the owner died (even by {@code kill -9}) its lease expires after HDFS's soft limit (a minute);
 * the probe then starts the file's recovery, and once the file is closed the start creates generation
 * n + 1. Creating a file that must not exist is atomic, so of two starts only one wins. A start waits
 * up to {@link #WAIT_FOR_DEAD_OWNER} for that. When the owner ran on this very machine and is known to be
 * gone (no process with its pid, or one that started at another moment), the start does not wait out the
 * lease: it recovers it at once ({@code recoverLease}), as a take-over would.</li>
 * <li>A take-over forces the lease of a live but hung owner ({@code recoverLease}) and creates the next
 * generation; the old owner finds a higher generation at its next {@link #verify()} and stops.</li>
 * </ul>
 */
final class HadoopOwnerLock implements Ownership {

    private static final Logger LOG = LoggerFactory.getLogger(HadoopOwnerLock.class);
    static final Duration WAIT_FOR_DEAD_OWNER = Duration.ofSeconds(Long.getLong("onceflow.hadoop.lock.wait.seconds", 90));
    private static final String PREFIX = FileOwnerLock.LOCK_FILE + ".";

    private final FileSystem fs;
    private final Path dir;
    private final long generation;
    private FSDataOutputStream out;

    private HadoopOwnerLock(FileSystem fs, Path dir, long generation, FSDataOutputStream out) {
        this.fs = fs;
        this.dir = dir;
        this.generation = generation;
        this.out = out;
    }

    static HadoopOwnerLock acquire(FileSystem fs, Path dir, String jobName, boolean takeOver) throws IOException {
        String line = FileOwnerLock.holderLines();
        long deadline = System.nanoTime() + WAIT_FOR_DEAD_OWNER.toNanos();
        boolean announced = false;
        boolean recovering = false;
        fs.mkdirs(dir);
        while (true) {
            long highest = highestGeneration(fs, dir);
            boolean free = highest < 0;
            String owner = "";
            if (!free) {
                Path current = file(dir, highest);
                String content = read(fs, current);
                owner = FileOwnerLock.describe(content);
                boolean gone = FileOwnerLock.goneFromThisMachine(content);
                if ((takeOver || gone) && fs instanceof org.apache.hadoop.hdfs.DistributedFileSystem dfs
                        && !dfs.isFileClosed(current)) {
                    if (!recovering) {
                        recovering = true;
                        if (takeOver && !gone) {
                            LOG.warn("Job '{}': taking over {} from {}, declared hung (take-over): forcing its lease",
                                    jobName, dir, owner);
                        } else {
                            LOG.info("Job '{}': the owner of {}, {}, is gone: recovering its HDFS lease now rather "
                                    + "than waiting for it to expire", jobName, dir, owner);
                        }
                    }
                    dfs.recoverLease(current);
                }
                free = isFree(fs, current);
            }
            if (free) {
                Path mine = file(dir, highest + 1);
                try {
                    FSDataOutputStream stream = fs.create(mine, false);
                    stream.write(line.getBytes(StandardCharsets.UTF_8));
                    stream.hflush();
                    for (long g = 0; g <= highest; g++) {
                        fs.delete(file(dir, g), false); // closed generations of owners that are gone
                    }
                    if (highest >= 0) {
                        LOG.info("Job '{}': the previous owner of {} ({}) is gone; this process owns it now", jobName,
                                dir, owner);
                    }
                    return new HadoopOwnerLock(fs, dir, highest + 1, stream);
                } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
                    continue; // another start won this generation: look again
                }
            }
            boolean knownAlive = owner.contains("(alive on this machine)") || owner.contains("(this very process");
            if (!takeOver && (knownAlive || System.nanoTime() > deadline)) {
                throw new OwnershipLostException("Job '" + jobName + "' is already running on checkpoint directory "
                        + dir + ": it is owned by " + owner + ", whose HDFS lease on its lock file is alive. Two "
                        + "instances would overwrite and delete each other's checkpoints. Stop that instance first; if "
                        + "it is hung or its machine is gone, start this one with take-over (command line: --take-over; "
                        + "API: getCheckpointConfig().setTakeOver(true)), which fences it");
            }
            if (!announced && !recovering) {
                announced = true;
                LOG.info("Job '{}': {} is owned by {}; waiting up to {} s for its HDFS lease to expire, in case it died",
                        jobName, dir, owner, WAIT_FOR_DEAD_OWNER.toSeconds());
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the owner lock of " + dir, e);
            }
        }
    }

    private static Path file(Path dir, long generation) {
        return new Path(dir, PREFIX + generation);
    }

    private static long highestGeneration(FileSystem fs, Path dir) throws IOException {
        long highest = -1;
        for (FileStatus s : fs.listStatus(dir)) {
            String name = s.getPath().getName();
            if (name.startsWith(PREFIX)) {
                try {
                    highest = Math.max(highest, Long.parseLong(name.substring(PREFIX.length())));
                } catch (NumberFormatException ignored) {
                    // not ours
                }
            }
        }
        return highest;
    }

    /**
     * Whether nobody writes {@code current} any more. Creating it again (it must not exist) makes the
     * namenode say: a live writer's lease refuses, an expired one starts the file's recovery, and a closed
     * file only "already exists".
     */
    private static boolean isFree(FileSystem fs, Path current) throws IOException {
        try {
            fs.create(current, false).close();
            fs.delete(current, false); // it had vanished meanwhile: take the next generation anyway
            return true;
        } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
            return true;
        } catch (IOException e) {
            String text = e.toString();
            if (text.contains("AlreadyBeingCreatedException") || text.contains("RecoveryInProgressException")) {
                return false;
            }
            throw e;
        }
    }

    private static String read(FileSystem fs, Path file) {
        try (InputStream in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public synchronized void verify() {
        if (out == null) {
            throw new OwnershipLostException("This process released the ownership of " + dir);
        }
        long highest;
        try {
            highest = highestGeneration(fs, dir);
        } catch (IOException e) {
            // cannot tell: the checkpoint that follows will fail on the same file system anyway
            LOG.debug("Could not list {}: {}", dir, e.toString());
            return;
        }
        if (highest > generation) {
            throw new OwnershipLostException("Another instance took this job over: " + dir + " is now owned by "
                    + FileOwnerLock.describe(read(fs, file(dir, highest))) + ", no longer this process (pid "
                    + ProcessHandle.current().pid() + "). This instance is fenced: it writes no more checkpoints, its "
                    + "Kafka transactions are fenced, and it stops");
        }
    }

    @Override
    public synchronized void release() {
        if (out == null) {
            return;
        }
        try {
            out.close();
        } catch (IOException e) {
            LOG.debug("Releasing the owner lock of {} failed: {}", dir, e.toString());
        } finally {
            out = null;
        }
    }
}
