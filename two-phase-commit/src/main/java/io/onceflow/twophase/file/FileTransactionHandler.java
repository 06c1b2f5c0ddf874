package io.onceflow.twophase.file;

import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.twophase.TransactionContext;
import io.onceflow.twophase.TransactionHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Transactions as files in one directory. A transaction writes the hidden file
 * {@code .<prefix>-<subtask>-<restored checkpoint>-<sequence>.inprogress} (created on its first record),
 * pre-commit flushes and fsyncs it and the directory, and commit renames it atomically to
 * {@code <prefix>-<subtask>-<checkpoint>.txt} and fsyncs the directory. So a committed file appears
 * whole or not at all, and survives {@code kill -9} and power loss once commit returned.
 *
 * <p>Before the rename, commit checks the file against what pre-commit wrote: its length, and after a restore
 * (when the file has been left alone through a crash, possibly for long) its CRC-32C as well, read whole. A file
 * changed on disk since is not committed: the job stops, naming it ({@link NonRecoverableException}).
 *
 * <p>Commit is idempotent: when the in-progress file is gone and the committed file exists, the
 * transaction was committed before. It never overwrites a committed file: if both exist (a second run
 * writing into the directory with restarted checkpoint ids, or an old checkpoint restored) it fails.
 *
 * <p>Stateless and thread-safe; each transaction's open file lives in its {@link FileTransaction}.
 * Used through {@link TransactionalFileSink}, or wrapped (for example by a test) in a
 * {@link io.onceflow.twophase.TwoPhaseCommitSink} of one's own.
 */
public final class FileTransactionHandler<IN> implements TransactionHandler<IN, FileTransaction> {

    private static final Logger LOG = LoggerFactory.getLogger(FileTransactionHandler.class);
    private static final Pattern VALID_PREFIX = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]*");
    private static final byte[] NEWLINE = {'\n'};

    private final Path directory;
    private final LineEncoder<IN> encoder;
    private final String prefix;

    /**
     * @param directory where the files go
     * @param encoder   turns each record into one line
     * @param prefix    the file name prefix, or null for the sink's operator uid
     * @throws IllegalArgumentException for a prefix that is not a plain file name part
     */
    public FileTransactionHandler(Path directory, LineEncoder<IN> encoder, String prefix) {
        this.directory = Objects.requireNonNull(directory, "directory").toAbsolutePath();
        this.encoder = Objects.requireNonNull(encoder, "encoder");
        this.prefix = prefix == null ? null : checkPrefix(prefix);
    }

    static String checkPrefix(String prefix) {
        if (!VALID_PREFIX.matcher(prefix).matches()) {
            throw new IllegalArgumentException("File prefix '" + prefix + "' cannot start file names: use letters, "
                    + "digits, '.', '_' and '-' only, not starting with '.' or '-'");
        }
        return prefix;
    }

    /** The prefix files get in the sink of operator {@code operatorUid}; fails with what to change if it cannot be used. */
    String prefixFor(String operatorUid) {
        if (prefix != null) {
            return prefix;
        }
        if (!VALID_PREFIX.matcher(operatorUid).matches()) {
            throw new IllegalArgumentException("The file sink names its files after its operator uid '" + operatorUid
                    + "', which cannot start file names: set filePrefix(...) on the TransactionalFileSink builder");
        }
        return operatorUid;
    }

    @Override
    public FileTransaction beginTransaction(TransactionContext context) {
        String base = prefixFor(context.operatorUid()) + "-" + context.subtaskIndex();
        String inProgress = "." + base + "-" + context.restoredCheckpointId() + "-" + context.sequenceNumber()
                + ".inprogress";
        return FileTransaction.open(inProgress, base);
    }

    @Override
    public void write(FileTransaction txn, IN value) throws Exception {
        String line = encoder.encode(value);
        if (line == null || line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("The line encoder of the file sink turned record " + value + " into "
                    + (line == null ? "null" : "a line with a line break: '" + line + "'")
                    + "; every record must become exactly one line");
        }
        OutputStream out = txn.output(directory);
        out.write(line.getBytes(StandardCharsets.UTF_8));
        out.write(NEWLINE);
    }

    @Override
    public FileTransaction preCommit(FileTransaction txn, long checkpointId) throws IOException {
        txn.flushAndClose(directory);
        // the file's directory entry must survive a crash as well as its bytes
        fsyncDirectory();
        return txn.preCommitted(checkpointId);
    }

    /** Commits a transaction pre-committed in this run, its file checked by length. */
    @Override
    public void commit(FileTransaction txn) throws IOException {
        commit(txn, false);
    }

    /** Commits a transaction read back from a checkpoint, its file checked by length and checksum. */
    @Override
    public void recoverAndCommit(FileTransaction txn) throws IOException {
        commit(txn, true);
    }

    private void commit(FileTransaction txn, boolean readWhole) throws IOException {
        if (!txn.isPreCommitted()) {
            throw new IllegalStateException("File transaction " + txn + " cannot be committed: it was never pre-committed");
        }
        Path source = directory.resolve(txn.inProgressName());
        Path target = directory.resolve(txn.committedName());
        if (Files.exists(source)) {
            if (Files.exists(target)) {
                throw new FileAlreadyExistsException(target.toString(), source.toString(), "Committing would overwrite "
                        + "a committed file: another run wrote into " + directory + " with the same prefix and "
                        + "checkpoint ids, or an older checkpoint was restored. Use a fresh directory or another prefix");
            }
            verify(txn, source, readWhole);
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        } else if (!Files.exists(target)) {
            throw new NoSuchFileException(source.toString(), target.toString(), "Neither the pre-committed file nor its "
                    + "committed name exists: the transaction's records are lost (was the directory cleaned?)");
        }
        // also when it was committed before a crash: the rename may not have been made durable then
        fsyncDirectory();
    }

    /** Fails, for good, if {@code file} is not what pre-commit wrote: its length, and if asked its checksum. */
    private void verify(FileTransaction txn, Path file, boolean readWhole) throws IOException {
        if (txn.length() == FileTransaction.UNKNOWN_LENGTH) {
            return; // checkpointed before files had a checksum
        }
        long size;
        String found;
        if (readWhole) {
            try (CheckedInputStream in = new CheckedInputStream(Files.newInputStream(file), new CRC32C())) {
                size = in.transferTo(OutputStream.nullOutputStream());
                if (size == txn.length() && in.getChecksum().getValue() == txn.checksum()) {
                    return;
                }
                found = size + " bytes with CRC-32C " + hex(in.getChecksum().getValue());
            }
        } else {
            size = Files.size(file);
            if (size == txn.length()) {
                return;
            }
            found = size + " bytes";
        }
        throw new NonRecoverableException("The pre-committed file " + file + " (to be committed as "
                + txn.committedName() + ") was changed on disk after its pre-commit: it holds " + found + ", where "
                + "the sink wrote " + txn.length() + " bytes with CRC-32C " + hex(txn.checksum()) + ". It was not "
                + "committed, so none of its records is published. Put the file back from a copy, or run the job "
                + "again from input before the checkpoint in its name; and find what else writes into " + directory);
    }

    private static String hex(long crc) {
        return String.format("%08x", crc);
    }

    @Override
    public void abort(FileTransaction txn) throws IOException {
        txn.closeQuietly();
        Files.deleteIfExists(directory.resolve(txn.inProgressName()));
    }

    /** Deletes every in-progress file of this prefix and subtask index: none is referenced by a restorable checkpoint any more. */
    @Override
    public void abortLingeringTransactions(SinkInitContext context) throws IOException {
        if (!Files.isDirectory(directory)) {
            return;
        }
        Pattern mine = Pattern.compile("\\." + Pattern.quote(prefixFor(context.getOperatorUid())) + "-"
                + context.getIndexOfSubtask() + "-\\d+-\\d+\\.inprogress");
        List<Path> lingering;
        try (Stream<Path> files = Files.list(directory)) {
            lingering = files.filter(f -> mine.matcher(f.getFileName().toString()).matches()).toList();
        }
        for (Path f : lingering) {
            Files.deleteIfExists(f);
        }
        if (!lingering.isEmpty()) {
            LOG.info("Sink '{}' subtask {}: deleted {} lingering in-progress file(s) in {}", context.getOperatorUid(),
                    context.getIndexOfSubtask(), lingering.size(), directory);
        }
    }

    private void fsyncDirectory() throws IOException {
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    @Override
    public VersionedSerializer<FileTransaction> getTransactionSerializer() {
        return Serializer.INSTANCE;
    }

    /**
     * Version 2: in-progress name, committed base name (UTF), whether pre-committed, and if so the committed name
     * (UTF), the file's length and its CRC-32C (longs). Version 1 (read still): the same without length and
     * checksum.
     */
    private enum Serializer implements VersionedSerializer<FileTransaction> {
        INSTANCE;

        @Override
        public int getVersion() {
            return 2;
        }

        @Override
        public byte[] serialize(FileTransaction txn) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeUTF(txn.inProgressName());
            out.writeUTF(txn.committedBaseName());
            out.writeBoolean(txn.isPreCommitted());
            if (txn.isPreCommitted()) {
                out.writeUTF(txn.committedName());
                out.writeLong(txn.length());
                out.writeLong(txn.checksum());
            }
            out.flush();
            return bytes.toByteArray();
        }

        @Override
        public FileTransaction deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1 && version != 2) {
                throw new IOException("Cannot read a file transaction of format version " + version
                        + ": this version of Onceflow reads versions 1 and 2 only");
            }
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
            String inProgress = in.readUTF();
            String base = in.readUTF();
            if (!in.readBoolean()) {
                return FileTransaction.of(inProgress, base, null, FileTransaction.UNKNOWN_LENGTH, 0);
            }
            String committed = in.readUTF();
            return version == 1 ? FileTransaction.of(inProgress, base, committed, FileTransaction.UNKNOWN_LENGTH, 0)
                    : FileTransaction.of(inProgress, base, committed, in.readLong(), in.readLong());
        }
    }
}
