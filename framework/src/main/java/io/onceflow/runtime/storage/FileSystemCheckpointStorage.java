package io.onceflow.runtime.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints in a directory of the local file system:
 *
 * <pre>
 * &lt;dir&gt;/&lt;job&gt;/chk-&lt;n&gt;/_metadata          written last, atomically (temp file, fsync, rename, fsync dir)
 * &lt;dir&gt;/&lt;job&gt;/chk-&lt;n&gt;/&lt;operator&gt;-&lt;subtask&gt;.state   one file per subtask with state above the inline threshold
 * &lt;dir&gt;/&lt;job&gt;/_owner.lock          locked by the one process that runs the job (see {@link FileOwnerLock})
 * &lt;dir&gt;/&lt;job&gt;/shared/&lt;name&gt;        files several checkpoints may refer to (incremental RocksDB SST files)
 * </pre>
 *
 * <p>What is durable when: state files are fsynced when written; the directory entries are fsynced up
 * to the job directory ({@code <job>} when {@code chk-<n>} is created, {@code chk-<n>} before and after
 * the metadata's rename). A directory fsync that fails fails the checkpoint: a checkpoint whose files
 * might vanish in a power cut must not count as complete.
 */
public final class FileSystemCheckpointStorage implements CheckpointStorage {

    private static final Logger LOG = LoggerFactory.getLogger(FileSystemCheckpointStorage.class);
    static final String METADATA = "_metadata";
    static final String PREFIX = "chk-";
    static final String SHARED = "shared";

    /** Makes a directory's entries durable; replaceable so tests can make it fail. */
    @FunctionalInterface
    public interface DirectorySync {
        void sync(Path directory) throws IOException;

        /** {@code fsync} of the directory, which is how POSIX file systems make new and renamed entries durable. */
        DirectorySync FSYNC = dir -> {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (IOException e) {
                throw new IOException("Could not fsync directory " + dir + " (" + e + "): the new checkpoint files "
                        + "in it may not survive a power failure", e);
            }
        };
    }

    private final Path baseDirectory;
    private final DirectorySync directorySync;

    public FileSystemCheckpointStorage(Path baseDirectory) {
        this(baseDirectory, DirectorySync.FSYNC);
    }

    public FileSystemCheckpointStorage(Path baseDirectory, DirectorySync directorySync) {
        this.baseDirectory = baseDirectory.toAbsolutePath().normalize();
        this.directorySync = java.util.Objects.requireNonNull(directorySync, "directorySync");
    }

    public Path getBaseDirectory() {
        return baseDirectory;
    }

    @Override
    public JobCheckpointStore forJob(String jobName) {
        return new Store(baseDirectory.resolve(safeName(jobName)), directorySync);
    }

    static String safeName(String name) {
        String safe = name.replaceAll("[^A-Za-z0-9._-]", "_");
        return safe.equals(name) ? safe : safe + "-" + Integer.toHexString(name.hashCode());
    }

    private static final class Store implements JobCheckpointStore, SharedStateFiles.Directory {
        private final Path jobDir;
        private final DirectorySync sync;

        Store(Path jobDir, DirectorySync sync) {
            this.jobDir = jobDir;
            this.sync = sync;
        }

        @Override
        public String describe() {
            return jobDir.toString();
        }

        @Override
        public void checkWritable() {
            try {
                boolean existed = Files.isDirectory(jobDir);
                Files.createDirectories(jobDir);
                // not Files.createTempFile, whose names come from a SecureRandom: its providers' loading is some 30 ms
                // of a cold start on the thread that starts the job, and a probe's name needs no secret
                Path probe = Files.createFile(jobDir.resolve(".probe" + Long.toUnsignedString(
                        java.util.concurrent.ThreadLocalRandom.current().nextLong()) + ".tmp"));
                Files.delete(probe);
                if (!existed && jobDir.getParent() != null) {
                    sync.sync(jobDir.getParent());
                }
            } catch (IOException | SecurityException e) {
                throw new IllegalStateException("Checkpoint directory " + jobDir + " is not writable ("
                        + e.getClass().getSimpleName() + ": " + e.getMessage() + "): choose a checkpoint storage "
                        + "directory this process can create and write", e);
            }
        }

        private Path chkDir(long id) {
            return jobDir.resolve(PREFIX + id);
        }

        private List<Long> ids() throws IOException {
            List<Long> ids = new ArrayList<>();
            if (!Files.isDirectory(jobDir)) {
                return ids;
            }
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(jobDir, PREFIX + "*")) {
                for (Path d : dirs) {
                    SharedStateFiles.checkpointId(d.getFileName().toString()).ifPresent(ids::add);
                }
            }
            ids.sort(Comparator.naturalOrder());
            return ids;
        }

        @Override
        public List<Long> allCheckpointIds() throws IOException {
            return ids();
        }

        @Override
        public CheckpointMetadata metadata(long checkpointId) throws IOException {
            return readMetadata(checkpointId);
        }

        @Override
        public void deleteShared(String path) throws IOException {
            Files.deleteIfExists(jobDir.resolve(path));
        }

        @Override
        public Optional<CheckpointMetadata> loadLatestCompleted() throws IOException {
            List<Long> ids = ids();
            for (int i = ids.size() - 1; i >= 0; i--) {
                Path metadata = chkDir(ids.get(i)).resolve(METADATA);
                if (Files.exists(metadata)) {
                    return Optional.of(MetadataFormat.read(Files.readAllBytes(metadata), metadata.toString()));
                }
            }
            return Optional.empty();
        }

        @Override
        public Ownership acquireOwnership(boolean takeOver) throws IOException {
            return FileOwnerLock.acquire(jobDir, jobDir.getFileName().toString(), takeOver);
        }

        @Override
        public List<Long> completedCheckpointIds() throws IOException {
            List<Long> completed = new ArrayList<>();
            for (long id : ids()) {
                if (Files.exists(chkDir(id).resolve(METADATA))) {
                    completed.add(id);
                }
            }
            return completed;
        }

        @Override
        public long highestCheckpointId() throws IOException {
            List<Long> ids = ids();
            return ids.isEmpty() ? 0 : ids.get(ids.size() - 1);
        }

        @Override
        public void initCheckpoint(long checkpointId) throws IOException {
            Files.createDirectories(chkDir(checkpointId));
            // the reserved id must survive a crash, or a later run could reuse it
            sync.sync(jobDir);
        }

        @Override
        public StateHandle writeState(long checkpointId, String name, byte[] data) throws IOException {
            Path dir = chkDir(checkpointId);
            Files.createDirectories(dir);
            String fileName = safeName(name) + ".state";
            Path file = dir.resolve(fileName);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(data);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            return new StateHandle.InFile(PREFIX + checkpointId + "/" + fileName, data.length);
        }

        @Override
        public CheckpointStateOutput openStateOutput(long checkpointId, String name) throws IOException {
            Path dir = chkDir(checkpointId);
            Files.createDirectories(dir);
            String fileName = safeName(name) + ".state";
            Path file = dir.resolve(fileName);
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
            java.io.OutputStream stream = new java.io.BufferedOutputStream(java.nio.channels.Channels.newOutputStream(ch),
                    64 * 1024);
            return new CheckpointStateOutput() {
                private long size;
                private boolean closed;

                @Override
                public void write(int b) throws IOException {
                    stream.write(b);
                    size++;
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    stream.write(b, off, len);
                    size += len;
                }

                @Override
                public StateHandle closeAndGetHandle() throws IOException {
                    closed = true;
                    try {
                        stream.flush();
                        ch.force(true);
                    } finally {
                        ch.close();
                    }
                    return new StateHandle.InFile(PREFIX + checkpointId + "/" + fileName, size);
                }

                @Override
                public void discard() {
                    if (closed) {
                        return;
                    }
                    closed = true;
                    try {
                        ch.close();
                        Files.deleteIfExists(file);
                    } catch (IOException e) {
                        LOG.debug("Could not discard {}: {}", file, e.toString());
                    }
                }
            };
        }

        @Override
        public java.io.InputStream openState(StateHandle handle) throws IOException {
            if (handle instanceof StateHandle.Inline inline) {
                return new java.io.ByteArrayInputStream(inline.data());
            }
            Path file = jobDir.resolve(((StateHandle.InFile) handle).path());
            try {
                return Files.newInputStream(file);
            } catch (NoSuchFileException e) {
                throw new IOException("State file " + file + " of a completed checkpoint is missing: the checkpoint "
                        + "directory was changed by hand or is on a file system that lost data", e);
            }
        }

        @Override
        public byte[] readState(StateHandle handle) throws IOException {
            if (handle instanceof StateHandle.Inline inline) {
                return inline.data();
            }
            Path file = jobDir.resolve(((StateHandle.InFile) handle).path());
            try {
                return Files.readAllBytes(file);
            } catch (NoSuchFileException e) {
                throw new IOException("State file " + file + " of a completed checkpoint is missing: the checkpoint "
                        + "directory was changed by hand or is on a file system that lost data", e);
            }
        }

        @Override
        public void commitMetadata(CheckpointMetadata metadata) throws IOException {
            Path dir = chkDir(metadata.checkpointId());
            Files.createDirectories(dir);
            // the state files' entries first, so the metadata can never be durable without them
            sync.sync(dir);
            Path tmp = dir.resolve(METADATA + ".inprogress");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(MetadataFormat.write(metadata));
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, dir.resolve(METADATA), StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("The file system of " + dir + " cannot rename atomically; checkpoints need it", e);
            }
            sync.sync(dir);
        }

        @Override
        public void discard(long checkpointId) throws IOException {
            LocalFiles.deleteRecursively(chkDir(checkpointId));
        }

        @Override
        public StateHandle.InFile uploadShared(String name, Path localFile) throws IOException {
            Path dir = sharedDir();
            String fileName = safeName(name);
            Path target = dir.resolve(fileName);
            Path tmp = dir.resolve(fileName + ".inprogress");
            Files.copy(localFile, tmp, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            return publishShared(tmp, dir, fileName);
        }

        /** In place: the body goes to the shared directory's in-progress file, which is then fsynced and renamed. */
        @Override
        public StateHandle.InFile writeShared(String name, SharedFileBody body) throws IOException {
            Path dir = sharedDir();
            String fileName = safeName(name);
            Path tmp = dir.resolve(fileName + ".inprogress");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                body.writeTo(java.nio.channels.Channels.newOutputStream(ch));
                ch.force(true);
            } catch (IOException | RuntimeException | Error e) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            return publishShared(tmp, dir, fileName);
        }

        private Path sharedDir() throws IOException {
            Path dir = jobDir.resolve(SHARED);
            boolean created = !Files.isDirectory(dir);
            Files.createDirectories(dir);
            if (created) {
                sync.sync(jobDir);
            }
            return dir;
        }

        /** Renames a written and fsynced in-progress file to its name, durably (the directory's fsync). */
        private StateHandle.InFile publishShared(Path tmp, Path dir, String fileName) throws IOException {
            Path target = dir.resolve(fileName);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            sync.sync(dir);
            return new StateHandle.InFile(SHARED + "/" + fileName, Files.size(target));
        }

        @Override
        public java.util.OptionalLong readCommitMark(String name) throws IOException {
            Path dir = jobDir.resolve(SharedStateFiles.COMMIT_MARKS);
            if (!Files.isDirectory(dir)) {
                return java.util.OptionalLong.empty();
            }
            java.util.List<String> names = new java.util.ArrayList<>();
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                files.forEach(p -> names.add(p.getFileName().toString()));
            }
            return SharedStateFiles.highestMark(safeName(name), names);
        }

        @Override
        public void writeCommitMark(String name, long checkpointId) throws IOException {
            Path dir = jobDir.resolve(SharedStateFiles.COMMIT_MARKS);
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
                sync.sync(jobDir);
            }
            String safe = safeName(name);
            java.util.OptionalLong current = readCommitMark(name);
            if (current.isPresent() && current.getAsLong() >= checkpointId) {
                return;
            }
            // a new empty file named by the mark: its creation is atomic, and durable with the directory's fsync
            Path mark = dir.resolve(SharedStateFiles.markFileName(safe, checkpointId));
            if (!Files.exists(mark)) {
                Files.createFile(mark);
            }
            sync.sync(dir);
            if (current.isPresent()) {
                Files.deleteIfExists(dir.resolve(SharedStateFiles.markFileName(safe, current.getAsLong())));
            }
        }

        @Override
        public java.io.InputStream openShared(StateHandle.InFile handle) throws IOException {
            Path file = jobDir.resolve(handle.path());
            try {
                return Files.newInputStream(file);
            } catch (NoSuchFileException e) {
                throw new IOException("Shared state file " + file + " of a completed checkpoint is missing: the "
                        + "checkpoint directory was changed by hand or is on a file system that lost data", e);
            }
        }

        @Override
        public void downloadShared(StateHandle.InFile handle, Path localFile) throws IOException {
            Path file = jobDir.resolve(handle.path());
            try {
                Files.copy(file, localFile, StandardCopyOption.REPLACE_EXISTING);
            } catch (NoSuchFileException e) {
                throw new IOException("Shared state file " + file + " of a completed checkpoint is missing: the "
                        + "checkpoint directory was changed by hand or is on a file system that lost data", e);
            }
        }

        @Override
        public void discardAllExcept(Set<Long> keep) throws IOException {
            if (keep.isEmpty()) {
                LocalFiles.deleteRecursively(jobDir);
                return;
            }
            SharedStateFiles.discardAllExcept(keep, this);
        }

        @Override
        public void discardUnreferencedSharedState() throws IOException {
            Path dir = jobDir.resolve(SHARED);
            if (!Files.isDirectory(dir)) {
                return;
            }
            java.util.Set<String> referenced = SharedStateFiles.referenced(this);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                for (Path f : files) {
                    if (!referenced.contains(SHARED + "/" + f.getFileName())) {
                        Files.deleteIfExists(f);
                    }
                }
            }
        }

        private CheckpointMetadata readMetadata(long id) throws IOException {
            Path metadata = chkDir(id).resolve(METADATA);
            return MetadataFormat.read(Files.readAllBytes(metadata), metadata.toString());
        }
    }
}
