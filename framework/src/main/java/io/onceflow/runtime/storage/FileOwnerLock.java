package io.onceflow.runtime.storage;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One owner per job directory: an exclusive operating-system lock on {@code <job>/_owner.lock}, whose
 * content names the holder ({@code host}, {@code pid} and its namespace {@code pidns}, when the process
 * {@code started}, {@code since} when it holds the lock, and a random {@code token}).
 *
 * <ul>
 * <li>A second start while the holder lives is refused, naming the holder.</li>
 * <li>The lock dies with its process: a start after {@code kill -9} of the holder simply takes it.</li>
 * <li>A holder that is alive but hung (stopped, or on a machine that is cut off) can be taken over on
 * purpose: the lock file is moved aside (the old holder keeps its lock on the moved file) and a new
 * one is created. The old holder, should it wake up, finds another file at {@code _owner.lock} at its
 * next {@link #verify()} and stops; its Kafka transactions are fenced by the new owner's.</li>
 * </ul>
 */
final class FileOwnerLock implements Ownership {

    private static final Logger LOG = LoggerFactory.getLogger(FileOwnerLock.class);
    static final String LOCK_FILE = "_owner.lock";

    /*
     * The locks this JVM holds, by lock file. POSIX record locks belong to the process and closing ANY
     * descriptor of the file drops them, so no code here may open a held lock file a second time: a
     * second job object in this JVM is refused from this map, and verify() only stats the file.
     */
    private static final java.util.Map<Path, FileOwnerLock> HELD = new java.util.concurrent.ConcurrentHashMap<>();

    private final Path file;
    private final Object fileKey;
    private final String holder;
    private FileChannel channel;
    private FileLock lock;

    private FileOwnerLock(Path file, Object fileKey, String holder, FileChannel channel, FileLock lock) {
        this.file = file;
        this.fileKey = fileKey;
        this.holder = holder;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock of {@code jobDir}.
     *
     * @param takeOver move a live holder's lock aside instead of refusing (it is fenced)
     * @throws OwnershipLostException when another live process holds it and {@code takeOver} is false
     */
    static synchronized FileOwnerLock acquire(Path jobDir, String jobName, boolean takeOver) throws IOException {
        Files.createDirectories(jobDir);
        Path file = jobDir.resolve(LOCK_FILE).toAbsolutePath().normalize();
        for (int round = 0; ; round++) {
            FileOwnerLock mine = HELD.get(file);
            FileChannel ch = null;
            FileLock lock = null;
            String current;
            if (mine != null) {
                current = mine.holder; // held by this very process, by another job object
            } else {
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                try {
                    lock = ch.tryLock();
                } catch (OverlappingFileLockException | IOException e) {
                    ch.close();
                    throw e instanceof IOException io ? io : new IOException(e);
                }
                current = lock == null ? read(ch) : "";
                if (lock == null) {
                    ch.close();
                }
            }
            if (lock == null) {
                if (!takeOver || round > 0) {
                    throw new OwnershipLostException("Job '" + jobName + "' is already running on checkpoint directory "
                            + jobDir + ": it is owned by " + describe(current) + ". Two instances would overwrite and "
                            + "delete each other's checkpoints. Stop that instance first (a graceful stop or Ctrl-C; "
                            + "one killed with kill -9 releases it at once). If it is hung, or its machine is gone "
                            + "while the directory is shared, start this one with take-over (command line: "
                            + "--take-over; API: getCheckpointConfig().setTakeOver(true)): the old one is then fenced");
                }
                // move the hung holder's lock file aside: it keeps its lock, but on a file nobody looks at
                Path aside = jobDir.resolve(LOCK_FILE + ".taken-over-" + System.currentTimeMillis());
                Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
                if (mine != null) {
                    HELD.remove(file, mine);
                }
                LOG.warn("Job '{}': taking over {} from {}, which is alive but was declared hung (take-over); it "
                        + "is fenced and will stop when it notices", jobName, jobDir, describe(current));
                continue;
            }
            String previous = read(ch);
            // unique to this acquisition, not secret: UUID.randomUUID() would load the JDK's security providers for
            // its SecureRandom, some 30 ms of a cold start on the thread that starts the job
            ThreadLocalRandom random = ThreadLocalRandom.current();
            String token = new UUID(random.nextLong(), random.nextLong()).toString();
            Object key = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
            String holder = holderLines() + "token=" + token + "\n";
            ch.truncate(0);
            ByteBuffer buf = ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8));
            long position = 0;
            while (buf.hasRemaining()) {
                position += ch.write(buf, position);
            }
            ch.force(true);
            if (!previous.isBlank()) {
                LOG.info("Job '{}': the previous owner of {} ({}) is gone; this process (pid {}) owns it now", jobName,
                        jobDir, describe(previous), ProcessHandle.current().pid());
            }
            FileOwnerLock owned = new FileOwnerLock(file, key, holder, ch, lock);
            HELD.put(file, owned);
            return owned;
        }
    }

    @Override
    public synchronized void verify() {
        if (channel == null) {
            throw new OwnershipLostException("This process released the ownership of " + file.getParent());
        }
        // stat, never open: opening and closing the file would drop this process's lock on it
        Object now;
        try {
            now = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (NoSuchFileException e) {
            now = null;
        } catch (IOException e) {
            // cannot tell: the checkpoint that follows will fail on the same file system anyway
            LOG.debug("Could not stat {}: {}", file, e.toString());
            return;
        }
        if (fileKey != null && !fileKey.equals(now)) {
            String current;
            try {
                current = now == null ? "" : Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                current = "";
            }
            throw new OwnershipLostException("Another instance took this job over: " + file + " now names "
                    + describe(current) + ", no longer this process (pid " + ProcessHandle.current().pid()
                    + "). This instance is fenced: it writes no more checkpoints, its Kafka transactions are fenced, "
                    + "and it stops");
        }
    }

    @Override
    public synchronized void release() {
        if (channel == null) {
            return;
        }
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            LOG.debug("Releasing {} failed: {}", file, e.toString());
        } finally {
            channel = null;
            lock = null;
            HELD.remove(file, this);
        }
    }

    @Override
    public String toString() {
        return "owner lock " + file + " (" + holder.replace('\n', ' ').trim() + ")";
    }

    private static String read(FileChannel ch) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(4096, Math.max(0, ch.size())));
        ch.read(buf, 0);
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }

    /** "pid 123 on host h since 2026-…" from a lock file's content. */
    static String describe(String content) {
        String host = field(content, "host");
        String pid = field(content, "pid");
        String since = field(content, "since");
        if (pid == null) {
            return "another process (its lock file names no holder)";
        }
        String text = "pid " + pid + " on host " + host + " since " + since;
        if (host == null || !host.equals(host())) {
            return text;
        }
        if (goneFromThisMachine(content)) {
            return text + " (no longer running on this machine)";
        }
        if (pid.equals(Long.toString(ProcessHandle.current().pid()))) {
            return text + " (this very process: another job object with the same name and checkpoint directory)";
        }
        return text + (isLong(pid) && ProcessHandle.of(Long.parseLong(pid)).isPresent() ? " (alive on this machine)" : "");
    }

    /**
     * The lines naming this process as a lock's holder: its host, its pid, the moment the process started
     * (which tells a restarted process that got the same pid, as in a restarted container, from the one
     * that wrote the lock) and the moment it took the lock.
     */
    static String holderLines() {
        ProcessHandle me = ProcessHandle.current();
        return "host=" + host() + "\npid=" + me.pid() + "\npidns=" + PID_NAMESPACE + "\nstarted="
                + me.info().startInstant().map(Instant::toString).orElse("") + "\nsince=" + Instant.now() + "\n";
    }

    /**
     * This process's pid namespace ({@code /proc/self/ns/pid} on Linux), empty where there is none to read:
     * pids are only comparable within one, and containers that share the machine's host name (host
     * networking) each have their own.
     */
    private static final String PID_NAMESPACE = pidNamespace();

    private static String pidNamespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return "";
        }
    }

    /**
     * Whether the holder a lock's content names is known to be gone: it ran on this machine (same host
     * name, and not a name many machines share) in this process's pid namespace, and no process with its pid
     * runs here any more, or the one that does started at another moment than the holder did. A holder that
     * names no pid namespace (written elsewhere, or by an earlier version) is never known gone.
     */
    static boolean goneFromThisMachine(String content) {
        String host = field(content, "host");
        String pid = field(content, "pid");
        String namespace = field(content, "pidns");
        if (host == null || pid == null || !isLong(pid) || !host.equals(host()) || SHARED_HOST_NAMES.contains(host)
                || namespace == null || namespace.isEmpty() || !namespace.equals(PID_NAMESPACE)) {
            return false;
        }
        java.util.Optional<ProcessHandle> running = ProcessHandle.of(Long.parseLong(pid));
        if (running.isEmpty()) {
            return true;
        }
        String started = field(content, "started");
        java.util.Optional<Instant> runningSince = running.get().info().startInstant();
        return started != null && !started.isEmpty() && runningSince.isPresent()
                && !runningSince.get().toString().equals(started);
    }

    /** Host names that do not tell one machine from another. */
    private static final java.util.Set<String> SHARED_HOST_NAMES = java.util.Set.of("localhost",
            "localhost.localdomain", "unknown", "");

    private static boolean isLong(String text) {
        try {
            Long.parseLong(text);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static String field(String content, String name) {
        for (String line : content.split("\n")) {
            if (line.startsWith(name + "=")) {
                return line.substring(name.length() + 1).trim();
            }
        }
        return null;
    }

    /** This machine's name, for the lock files' holder lines. */
    static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            String name = ManagementFactory.getRuntimeMXBean().getName();
            return name.contains("@") ? name.substring(name.indexOf('@') + 1) : "unknown";
        }
    }
}
