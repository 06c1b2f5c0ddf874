package io.onceflow.runtime.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Checkpoints on any Hadoop {@link FileSystem} ({@code hdfs://namenode:8020/checkpoints}, and the other
 * schemes a Hadoop client on the classpath knows), in the same layout as the local
 * {@link FileSystemCheckpointStorage}:
 *
 * <pre>
 * &lt;base&gt;/&lt;job&gt;/chk-&lt;n&gt;/_metadata            written last: a temporary file, hsync, then rename
 * &lt;base&gt;/&lt;job&gt;/chk-&lt;n&gt;/&lt;operator&gt;-&lt;subtask&gt;.state
 * &lt;base&gt;/&lt;job&gt;/shared/&lt;name&gt;                 incremental RocksDB SST files
 * &lt;base&gt;/&lt;job&gt;/_owner/_owner.lock.&lt;n&gt;       held open by the owner (see {@link HadoopOwnerLock})
 * </pre>
 *
 * Files are {@code hsync}ed before they count: on HDFS the data is on every datanode's disk, and the
 * namenode journals every create and rename before it answers. Needs {@code hadoop-client-api} and
 * {@code hadoop-client-runtime} on the classpath; the Hadoop configuration comes from the classpath
 * ({@code core-site.xml}, {@code hdfs-site.xml}) plus the properties given here.
 */
public final class HadoopCheckpointStorage implements CheckpointStorage {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HadoopCheckpointStorage.class);
    static final String METADATA = "_metadata";
    static final String PREFIX = "chk-";
    static final String SHARED = "shared";

    private final URI base;
    private final FileSystem fs;

    public HadoopCheckpointStorage(URI base, Map<String, String> hadoopProperties) {
        this.base = base;
        Configuration conf = new Configuration();
        hadoopProperties.forEach(conf::set);
        try {
            this.fs = FileSystem.newInstance(base, conf);
        } catch (org.apache.hadoop.fs.UnsupportedFileSystemException e) {
            throw new IllegalArgumentException("Checkpoint storage '" + base + "' uses the scheme '" + base.getScheme()
                    + "', which no Hadoop file system on the classpath knows: add the Hadoop module for it (such as "
                    + "hadoop-aws for s3a://), or use hdfs://, or a local directory as file:///path/to/checkpoints", e);
        } catch (IOException e) {
            throw new IllegalStateException("Cannot reach the checkpoint storage " + base + ": " + e.getMessage()
                    + ". Check the URI and that the file system (the HDFS namenode) is up", e);
        }
    }

    /** Closes this storage's own Hadoop file system client (one per storage, not Hadoop's shared cache). */
    @Override
    public void close() {
        try {
            fs.close();
        } catch (IOException e) {
            LOG.debug("Closing the Hadoop file system of {} failed: {}", base, e.toString());
        }
    }

    /** Whether Hadoop's client is on the classpath. */
    static boolean available() {
        try {
            Class.forName("org.apache.hadoop.fs.FileSystem", false, HadoopCheckpointStorage.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    @Override
    public JobCheckpointStore forJob(String jobName) {
        return new Store(new Path(new Path(base), FileSystemCheckpointStorage.safeName(jobName)), jobName);
    }

    private final class Store implements JobCheckpointStore, SharedStateFiles.Directory {
        private final Path jobDir;
        private final String jobName;

        Store(Path jobDir, String jobName) {
            this.jobDir = jobDir;
            this.jobName = jobName;
        }

        @Override
        public String describe() {
            return jobDir.toString();
        }

        @Override
        public void checkWritable() {
            try {
                fs.mkdirs(jobDir);
                Path probe = new Path(jobDir, ".probe-" + java.util.UUID.randomUUID());
                fs.create(probe, false).close();
                fs.delete(probe, false);
            } catch (IOException e) {
                throw new IllegalStateException("Checkpoint directory " + jobDir + " is not writable ("
                        + e.getClass().getSimpleName() + ": " + e.getMessage() + "): choose a checkpoint storage "
                        + "directory this process can create and write", e);
            }
        }

        @Override
        public Ownership acquireOwnership(boolean takeOver) throws IOException {
            return HadoopOwnerLock.acquire(fs, new Path(jobDir, "_owner"), jobName, takeOver);
        }

        private Path chkDir(long id) {
            return new Path(jobDir, PREFIX + id);
        }

        private List<Long> ids() throws IOException {
            List<Long> ids = new ArrayList<>();
            if (!fs.exists(jobDir)) {
                return ids;
            }
            for (FileStatus s : fs.listStatus(jobDir)) {
                if (s.isDirectory()) {
                    SharedStateFiles.checkpointId(s.getPath().getName()).ifPresent(ids::add);
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
            fs.delete(new Path(jobDir, path), false);
        }

        private CheckpointMetadata readMetadata(long id) throws IOException {
            Path metadata = new Path(chkDir(id), METADATA);
            try (InputStream in = fs.open(metadata)) {
                return MetadataFormat.read(in.readAllBytes(), metadata.toString());
            }
        }

        @Override
        public Optional<CheckpointMetadata> loadLatestCompleted() throws IOException {
            List<Long> ids = completedCheckpointIds();
            return ids.isEmpty() ? Optional.empty() : Optional.of(readMetadata(ids.get(ids.size() - 1)));
        }

        @Override
        public List<Long> completedCheckpointIds() throws IOException {
            List<Long> completed = new ArrayList<>();
            for (long id : ids()) {
                if (fs.exists(new Path(chkDir(id), METADATA))) {
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
            fs.mkdirs(chkDir(checkpointId));
        }

        @Override
        public StateHandle writeState(long checkpointId, String name, byte[] data) throws IOException {
            try (CheckpointStateOutput out = openStateOutput(checkpointId, name)) {
                out.write(data);
                return out.closeAndGetHandle();
            }
        }

        @Override
        public CheckpointStateOutput openStateOutput(long checkpointId, String name) throws IOException {
            String fileName = FileSystemCheckpointStorage.safeName(name) + ".state";
            Path file = new Path(chkDir(checkpointId), fileName);
            FSDataOutputStream stream = fs.create(file, true);
            return new CheckpointStateOutput() {
                private boolean closed;

                @Override
                public void write(int b) throws IOException {
                    stream.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    stream.write(b, off, len);
                }

                @Override
                public StateHandle closeAndGetHandle() throws IOException {
                    closed = true;
                    long size = stream.getPos();
                    stream.hsync();
                    stream.close();
                    return new StateHandle.InFile(PREFIX + checkpointId + "/" + fileName, size);
                }

                @Override
                public void discard() {
                    if (closed) {
                        return;
                    }
                    closed = true;
                    try {
                        stream.close();
                        fs.delete(file, false);
                    } catch (IOException ignored) {
                        // the checkpoint failed anyway; its directory is removed as garbage
                    }
                }
            };
        }

        @Override
        public byte[] readState(StateHandle handle) throws IOException {
            try (InputStream in = openState(handle)) {
                return in.readAllBytes();
            }
        }

        @Override
        public InputStream openState(StateHandle handle) throws IOException {
            if (handle instanceof StateHandle.Inline inline) {
                return new java.io.ByteArrayInputStream(inline.data());
            }
            Path file = new Path(jobDir, ((StateHandle.InFile) handle).path());
            try {
                return fs.open(file);
            } catch (java.io.FileNotFoundException e) {
                throw new IOException("State file " + file + " of a completed checkpoint is missing", e);
            }
        }

        @Override
        public void commitMetadata(CheckpointMetadata metadata) throws IOException {
            Path dir = chkDir(metadata.checkpointId());
            Path tmp = new Path(dir, METADATA + ".inprogress");
            try (FSDataOutputStream out = fs.create(tmp, true)) {
                out.write(MetadataFormat.write(metadata));
                out.hsync();
            }
            if (!fs.rename(tmp, new Path(dir, METADATA))) {
                throw new IOException("Could not rename " + tmp + " to " + METADATA + " in " + dir);
            }
        }

        @Override
        public StateHandle.InFile uploadShared(String name, java.nio.file.Path localFile) throws IOException {
            String fileName = FileSystemCheckpointStorage.safeName(name);
            Path dir = new Path(jobDir, SHARED);
            Path tmp = new Path(dir, fileName + ".inprogress");
            Path target = new Path(dir, fileName);
            try (FSDataOutputStream out = fs.create(tmp, true)) {
                java.nio.file.Files.copy(localFile, out);
                out.hsync();
            }
            return publishShared(tmp, target, fileName);
        }

        /** In place: the body goes to the in-progress file, which is then hsynced and renamed. */
        @Override
        public StateHandle.InFile writeShared(String name, SharedFileBody body) throws IOException {
            String fileName = FileSystemCheckpointStorage.safeName(name);
            Path dir = new Path(jobDir, SHARED);
            Path tmp = new Path(dir, fileName + ".inprogress");
            Path target = new Path(dir, fileName);
            try (FSDataOutputStream out = fs.create(tmp, true)) {
                body.writeTo(out);
                out.hsync();
            } catch (IOException | RuntimeException | Error e) {
                try {
                    fs.delete(tmp, false);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            return publishShared(tmp, target, fileName);
        }

        private StateHandle.InFile publishShared(Path tmp, Path target, String fileName) throws IOException {
            fs.delete(target, false);
            if (!fs.rename(tmp, target)) {
                throw new IOException("Could not rename " + tmp + " to " + target);
            }
            return new StateHandle.InFile(SHARED + "/" + fileName, fs.getFileStatus(target).getLen());
        }

        @Override
        public java.util.OptionalLong readCommitMark(String name) throws IOException {
            Path dir = new Path(jobDir, SharedStateFiles.COMMIT_MARKS);
            if (!fs.exists(dir)) {
                return java.util.OptionalLong.empty();
            }
            java.util.List<String> names = new java.util.ArrayList<>();
            for (FileStatus s : fs.listStatus(dir)) {
                names.add(s.getPath().getName());
            }
            return SharedStateFiles.highestMark(FileSystemCheckpointStorage.safeName(name), names);
        }

        @Override
        public void writeCommitMark(String name, long checkpointId) throws IOException {
            String safe = FileSystemCheckpointStorage.safeName(name);
            Path dir = new Path(jobDir, SharedStateFiles.COMMIT_MARKS);
            java.util.OptionalLong current = readCommitMark(name);
            if (current.isPresent() && current.getAsLong() >= checkpointId) {
                return;
            }
            // a new empty file named by the mark: its creation is atomic and durable once the name node has it
            Path mark = new Path(dir, SharedStateFiles.markFileName(safe, checkpointId));
            try (FSDataOutputStream out = fs.create(mark, true)) {
                out.hsync();
            }
            if (current.isPresent()) {
                fs.delete(new Path(dir, SharedStateFiles.markFileName(safe, current.getAsLong())), false);
            }
        }

        @Override
        public InputStream openShared(StateHandle.InFile handle) throws IOException {
            try {
                return fs.open(new Path(jobDir, handle.path()));
            } catch (java.io.FileNotFoundException e) {
                throw new IOException("Shared state file " + handle.path() + " of a completed checkpoint is missing in "
                        + jobDir, e);
            }
        }

        @Override
        public void downloadShared(StateHandle.InFile handle, java.nio.file.Path localFile) throws IOException {
            try (InputStream in = fs.open(new Path(jobDir, handle.path()));
                 OutputStream out = java.nio.file.Files.newOutputStream(localFile)) {
                in.transferTo(out);
            } catch (java.io.FileNotFoundException e) {
                throw new IOException("Shared state file " + handle.path() + " of a completed checkpoint is missing in "
                        + jobDir, e);
            }
        }

        @Override
        public void discard(long checkpointId) throws IOException {
            fs.delete(chkDir(checkpointId), true);
        }

        @Override
        public void discardAllExcept(Set<Long> keep) throws IOException {
            if (keep.isEmpty()) {
                // the lock stays: its owner still holds it until the job ends
                for (FileStatus s : fs.listStatus(jobDir)) {
                    if (!s.getPath().getName().equals("_owner")) {
                        fs.delete(s.getPath(), true);
                    }
                }
                return;
            }
            SharedStateFiles.discardAllExcept(keep, this);
        }

        @Override
        public void discardUnreferencedSharedState() throws IOException {
            Path dir = new Path(jobDir, SHARED);
            if (!fs.exists(dir)) {
                return;
            }
            Set<String> referenced = SharedStateFiles.referenced(this);
            for (FileStatus s : fs.listStatus(dir)) {
                if (!referenced.contains(SHARED + "/" + s.getPath().getName())) {
                    fs.delete(s.getPath(), false);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "HadoopCheckpointStorage(" + base + ")";
    }
}
