package io.onceflow.runtime.storage;

import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints in a directory of the local file system:
 *
 * <pre>
 * &lt;dir&gt;/&lt;job&gt;/chk-&lt;n&gt;/_metadata          written last, atomically (temp file, fsync, rename, fsync dir)
 * &lt;dir&gt;/&lt;job&gt;/chk-&lt;n&gt;/&lt;operator&gt;-&lt;subtask&gt;.state   one file per subtask with state above the inline threshold
 * </pre>
 */
public final class FileSystemCheckpointStorage implements CheckpointStorage {

    private static final Logger LOG = LoggerFactory.getLogger(FileSystemCheckpointStorage.class);
    static final String METADATA = "_metadata";
    static final String PREFIX = "chk-";

    private final Path baseDirectory;

    public FileSystemCheckpointStorage(Path baseDirectory) {
        this.baseDirectory = baseDirectory.toAbsolutePath().normalize();
    }

    public Path getBaseDirectory() {
        return baseDirectory;
    }

    @Override
    public JobCheckpointStore forJob(String jobName) {
        return new Store(baseDirectory.resolve(safeName(jobName)));
    }

    static String safeName(String name) {
        String safe = name.replaceAll("[^A-Za-z0-9._-]", "_");
        return safe.equals(name) ? safe : safe + "-" + Integer.toHexString(name.hashCode());
    }

    private static final class Store implements JobCheckpointStore {
        private final Path jobDir;

        Store(Path jobDir) {
            this.jobDir = jobDir;
        }

        @Override
        public String describe() {
            return jobDir.toString();
        }

        @Override
        public void checkWritable() {
            try {
                Files.createDirectories(jobDir);
                Path probe = Files.createTempFile(jobDir, ".probe", ".tmp");
                Files.delete(probe);
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
                    try {
                        ids.add(Long.parseLong(d.getFileName().toString().substring(PREFIX.length())));
                    } catch (NumberFormatException ignored) {
                        // not ours
                    }
                }
            }
            ids.sort(Comparator.naturalOrder());
            return ids;
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
        public long highestCheckpointId() throws IOException {
            List<Long> ids = ids();
            return ids.isEmpty() ? 0 : ids.get(ids.size() - 1);
        }

        @Override
        public void initCheckpoint(long checkpointId) throws IOException {
            Files.createDirectories(chkDir(checkpointId));
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
            fsyncDirectory(dir);
        }

        private static void fsyncDirectory(Path dir) {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (IOException e) {
                // some platforms cannot open directories; the rename is still atomic
                LOG.debug("Could not fsync directory {}: {}", dir, e.toString());
            }
        }

        @Override
        public void discard(long checkpointId) throws IOException {
            deleteRecursively(chkDir(checkpointId));
        }

        @Override
        public void discardAllExcept(Set<Long> keep) throws IOException {
            for (long id : ids()) {
                if (!keep.contains(id)) {
                    discard(id);
                }
            }
            if (keep.isEmpty() && Files.isDirectory(jobDir)) {
                deleteRecursively(jobDir);
            }
        }

        private static void deleteRecursively(Path dir) throws IOException {
            if (!Files.exists(dir)) {
                return;
            }
            try (Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
        }
    }
}
