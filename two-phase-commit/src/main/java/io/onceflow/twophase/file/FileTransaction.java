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

/**
 * The handle of one file transaction: the name of its hidden in-progress file and, once
 * pre-committed, the name it is committed under. Names are relative to the sink's directory.
 *
 * <p>An open transaction also holds its output stream, opened on the first record (an empty
 * transaction has no file). Only the thread of the subtask that began it touches it.
 */
public final class FileTransaction {

    private final String inProgressName;
    private final String committedBaseName;
    private final String committedName;
    private FileChannel channel;
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

    static FileTransaction of(String inProgressName, String committedBaseName, String committedName) {
        return new FileTransaction(inProgressName, committedBaseName, committedName);
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

    FileTransaction preCommitted(long checkpointId) {
        return new FileTransaction(inProgressName, committedBaseName, committedBaseName + "-" + checkpointId + ".txt");
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
            out = new BufferedOutputStream(Channels.newOutputStream(channel), 64 * 1024);
        }
        return out;
    }

    /** Flushes and fsyncs what was written and closes the file; creates an empty file if nothing was. */
    void flushAndClose(Path directory) throws IOException {
        OutputStream o = output(directory);
        o.flush();
        channel.force(true);
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
        channel = null;
    }

    @Override
    public String toString() {
        return committedName == null ? inProgressName : inProgressName + " -> " + committedName;
    }
}
