package io.onceflow.runtime.state.rocksdb;

import io.onceflow.runtime.storage.LocalFiles;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A RocksDB backend's working directory below the local directory, and a lock file beside it that the process
 * holds for as long as the backend is open ({@code <name>.lock}, an operating-system lock, which ends with the
 * process however it ends). Everything the backend keeps on local disk is inside it: the database, the local
 * checkpoints before their upload, the copies of old snapshots a restore reads. A process killed with
 * {@code kill -9} deletes nothing: its databases, a whole copy of each subtask's state, would stay on the disk for
 * good, one more set at every restart. So each new working directory first deletes those whose lock nobody holds
 * any more; a directory of a running process, or of this one, is left alone. (A heap backend reading a RocksDB
 * checkpoint copies its files into one of these too, below the temporary directory.)
 *
 * <p>A process holds a lock only once it has checked, with the lock held, that its lock file is still there:
 * a clean-up deletes a lock file while holding its lock, so one that a clean-up took in between is given up.
 */
final class WorkingDirectory implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(WorkingDirectory.class);
    private static final String LOCK = ".lock";
    /**
     * The lock files this process holds, by file identity (device and inode: whatever path names them). Never
     * opened by its own clean-up: on Linux, closing any channel of a file releases every lock the process holds
     * on it.
     */
    private static final Set<Object> HELD = new HashSet<>();

    private final Path directory;
    private final Path lockFile;
    private final Object lockFileKey;
    private final FileChannel channel;

    private WorkingDirectory(Path directory, Path lockFile, Object lockFileKey, FileChannel channel) {
        this.directory = directory;
        this.lockFile = lockFile;
        this.lockFileKey = lockFileKey;
        this.channel = channel;
    }

    /** A file's identity: its device and inode where the file system says, else its real path. */
    private static Object identity(Path file) throws IOException {
        Object key = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
        return key != null ? key : file.toRealPath();
    }

    Path path() {
        return directory;
    }

    /** A new working directory below {@code base}, named from {@code prefix}, after the clean-up of stale ones. */
    static synchronized WorkingDirectory create(Path base, String prefix) throws IOException {
        Files.createDirectories(base);
        removeStale(base);
        for (int attempt = 0; ; attempt++) {
            Path lockFile = Files.createTempFile(base, prefix, LOCK);
            FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE);
            FileLock lock = null;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                // this process locks that file already: not one just created, so take another
            }
            Object key = lock == null ? null : identityIfThere(lockFile);
            if (key == null) {  // another process's clean-up took it meanwhile
                channel.close();
                if (attempt >= 10) {
                    throw new IOException("Cannot lock a new RocksDB working directory below " + base);
                }
                continue;
            }
            HELD.add(key);
            String name = lockFile.getFileName().toString();
            Path directory = base.resolve(name.substring(0, name.length() - LOCK.length()));
            try {
                Files.createDirectory(directory);
            } catch (IOException e) {
                HELD.remove(key);
                channel.close();
                Files.deleteIfExists(lockFile);
                throw e;
            }
            return new WorkingDirectory(directory, lockFile, key, channel);
        }
    }

    private static Object identityIfThere(Path file) throws IOException {
        try {
            return identity(file);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Deletes the working directories below {@code base} whose lock no process holds, and their lock files. */
    static synchronized void removeStale(Path base) throws IOException {
        try (DirectoryStream<Path> locks = Files.newDirectoryStream(base, "*" + LOCK)) {
            for (Path lockFile : locks) {
                try {
                    Object key = identityIfThere(lockFile);
                    if (key != null && !HELD.contains(key)) {
                        removeIfStale(base, lockFile);
                    }
                } catch (IOException e) {  // not this backend's to fail for: the next start tries again
                    LOG.warn("Could not delete the RocksDB working directory of {}, left by a process that "
                            + "ended without deleting it: {}", lockFile, e.toString());
                }
            }
        }
    }

    private static void removeIfStale(Path base, Path lockFile) throws IOException {
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                return;
            }
            if (lock == null) {
                return;  // a running process's
            }
            String name = lockFile.getFileName().toString();
            Path directory = base.resolve(name.substring(0, name.length() - LOCK.length()));
            LocalFiles.deleteRecursively(directory);
            Files.deleteIfExists(lockFile);
            LOG.info("Deleted the RocksDB working directory {} of a process that ended without deleting it", directory);
        } catch (NoSuchFileException e) {
            // deleted by another process's clean-up meanwhile
        }
    }

    /**
     * Deletes the directory and then its lock file, and lets the lock go. A directory that could not be deleted
     * keeps its lock file, unlocked, for the next clean-up to try again.
     */
    @Override
    public void close() throws IOException {
        synchronized (WorkingDirectory.class) {
            try {
                LocalFiles.deleteRecursively(directory);
                Files.deleteIfExists(lockFile);
            } finally {
                HELD.remove(lockFileKey);
                channel.close();
            }
        }
    }
}
