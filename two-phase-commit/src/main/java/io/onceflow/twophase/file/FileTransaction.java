package io.onceflow.twophase.file;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * The handle of one file transaction: the name of its hidden in-progress file and, once
 * pre-committed, the name it is committed under. Names are relative to the sink's directory.
 *
 * <p>An open transaction also holds its output stream, opened on the first record (an empty
 * transaction has no file). Only the thread of the subtask that began it touches it.
 *
 * <p>A pre-committed transaction also knows its file's length and CRC-32C as written, so that its commit can
 * tell a file changed on disk since the pre-commit from the one it wrote ({@link #UNKNOWN_LENGTH} for a
 * transaction read from a checkpoint written before files had them).
 */
public final class FileTransaction {

    /** The length of a pre-committed file whose transaction was checkpointed before files had a checksum. */
    static final long UNKNOWN_LENGTH = -1;

    private final String inProgressName;
    private final String committedBaseName;
    private final String committedName;
    /** Once pre-committed (or sealed by the flush before it): the file's length and CRC-32C as written. */
    private long length = UNKNOWN_LENGTH;
    private long checksum;
    private FileChannel channel;
    private CheckedOutputStream checked;
    private OutputStream out;
    private boolean sealed;

    private FileTransaction(String inProgressName, String committedBaseName, String committedName) {
        this.inProgressName = Objects.requireNonNull(inProgressName, "inProgressName");
        this.committedBaseName = Objects.requireNonNull(committedBaseName, "committedBaseName");
        this.committedName = committedName;
    }

    static FileTransaction open(String inProgressName, String committedBaseName) {
        return new FileTransaction(inProgressName, committedBaseName, null);
    }

    /** A transaction read from a checkpoint; {@code length} {@link #UNKNOWN_LENGTH} if it has no checksum. */
    static FileTransaction of(String inProgressName, String committedBaseName, String committedName, long length,
                              long checksum) {
        FileTransaction txn = new FileTransaction(inProgressName, committedBaseName, committedName);
        txn.length = length;
        txn.checksum = checksum;
        return txn;
    }

    /** {@code .<prefix>-<subtask>-<restored checkpoint>-<sequence>.inprogress} */
    public String inProgressName() {
        return inProgressName;
    }

    /** {@code <prefix>-<subtask>}: the committed name without the checkpoint id. */
    public String committedBaseName() {
        return committedBaseName;
    }

    /** {@code <prefix>-<subtask>-<checkpoint>.txt} once pre-committed, null while open. */
    public String committedName() {
        return committedName;
    }

    boolean isPreCommitted() {
        return committedName != null;
    }

    /** The file's length as written, or {@link #UNKNOWN_LENGTH}. */
    long length() {
        return length;
    }

    /** The CRC-32C of the file as written; meaningless when {@link #length()} is {@link #UNKNOWN_LENGTH}. */
    long checksum() {
        return checksum;
    }

    /** Called after {@link #flushAndClose}: the handle to checkpoint, with the file's length and checksum. */
    FileTransaction preCommitted(long checkpointId) {
        return of(inProgressName, committedBaseName, committedBaseName + "-" + checkpointId + ".txt", length, checksum);
    }

    /** The output stream, creating (or truncating leftovers of a failed attempt under) the in-progress file on first use. */
    OutputStream output(Path directory) throws IOException {
        if (sealed) {
            throw new IllegalStateException("Transaction " + this + " was already pre-committed or aborted: "
                    + "it takes no more records");
        }
        if (out == null) {
            Files.createDirectories(directory);
            channel = FileChannel.open(directory.resolve(inProgressName), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            // the checksum sees the bytes as the buffer hands them on, 64 KiB at a time
            checked = new CheckedOutputStream(Channels.newOutputStream(channel), new CRC32C());
            out = new BufferedOutputStream(checked, 64 * 1024);
        }
        return out;
    }

    /**
     * Flushes and fsyncs what was written, notes the file's length and checksum, and closes the file; creates an
     * empty file if nothing was written.
     */
    void flushAndClose(Path directory) throws IOException {
        OutputStream o = output(directory);
        o.flush();
        channel.force(true);
        length = channel.size();
        checksum = checked.getChecksum().getValue();
        closeQuietly();
    }

    void closeQuietly() {
        sealed = true;
        try {
            if (out != null) {
                out.close();
            } else if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            // the file is deleted or already flushed: a failed close loses nothing
        }
        out = null;
        checked = null;
        channel = null;
    }

    @Override
    public String toString() {
        return committedName == null ? inProgressName : inProgressName + " -> " + committedName;
    }
}
