package io.onceflow.twophase.file;

import io.onceflow.twophase.ForwardingTwoPhaseCommitSink;
import io.onceflow.twophase.TwoPhaseCommitSink;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An exactly-once file sink: each sink subtask writes one file per completed checkpoint that it had
 * records for, {@code <prefix>-<subtask>-<checkpoint>.txt}, one encoded record per line. Files appear
 * whole (atomic rename) when their checkpoint completes, never before, and never twice; readers
 * should skip hidden files (in-progress ones start with '.').
 *
 * <pre>{@code
 * stream.sinkTo(TransactionalFileSink.builder(Path.of("/data/out"), (String s) -> s)
 *                 .filePrefix("counts")          // optional; default: the sink's operator uid
 *                 .build())
 *       .uid("sink");
 * }</pre>
 *
 * The reference {@link io.onceflow.twophase.TransactionHandler} on the {@link TwoPhaseCommitSink}
 * template; see {@link FileTransactionHandler} for the file protocol.
 *
 * @param <IN> the records written
 */
public final class TransactionalFileSink<IN> extends ForwardingTwoPhaseCommitSink<IN, FileTransaction> {

    private final Path directory;
    private final FileTransactionHandler<IN> handler;

    private TransactionalFileSink(Path directory, FileTransactionHandler<IN> handler) {
        super(TwoPhaseCommitSink.builder(handler).build());
        this.directory = directory;
        this.handler = handler;
    }

    public static <IN> Builder<IN> builder(Path directory, LineEncoder<IN> encoder) {
        return new Builder<>(Objects.requireNonNull(directory, "directory"), Objects.requireNonNull(encoder, "encoder"));
    }

    /** The directory the committed files appear in. */
    public Path directory() {
        return directory;
    }

    /**
     * Before the job runs: the file prefix (by default the operator uid) must be usable in file names,
     * and no other file sink of the job may write the same names into the same directory. A starting
     * sink deletes the in-progress files of its prefix and subtask index, so a shared prefix would
     * destroy the other sink's pending transactions.
     */
    @Override
    public void validate(Context context) throws Exception {
        super.validate(context);
        String prefix = handler.prefixFor(context.operatorUid());
        Object other = context.shared().putIfAbsent("onceflow.file-sink " + directory.resolve(prefix),
                context.operatorUid());
        if (other != null) {
            throw new IllegalStateException("File sinks '" + other + "' and '" + context.operatorUid() + "' would both "
                    + "write files named " + prefix + "-* into " + directory + ": give one of them another filePrefix(...) "
                    + "or directory");
        }
    }

    /** Configures a {@link TransactionalFileSink}. */
    public static final class Builder<IN> {
        private final Path directory;
        private final LineEncoder<IN> encoder;
        private String prefix;

        private Builder(Path directory, LineEncoder<IN> encoder) {
            this.directory = directory;
            this.encoder = encoder;
        }

        /**
         * The start of every file name (letters, digits, '.', '_', '-'). Default: the sink's operator
         * uid. Two sinks writing into one directory need different prefixes: checked among the sinks of
         * one job when it starts, up to you across jobs.
         */
        public Builder<IN> filePrefix(String prefix) {
            Objects.requireNonNull(prefix, "prefix");
            if (this.prefix != null) {
                throw new IllegalStateException("The file prefix was already set to '" + this.prefix + "'");
            }
            this.prefix = FileTransactionHandler.checkPrefix(prefix);
            return this;
        }

        /**
         * Creates the directory if needed.
         *
         * @throws UncheckedIOException naming the directory when it cannot be created or written
         */
        public TransactionalFileSink<IN> build() {
            Path dir = directory.toAbsolutePath();
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UncheckedIOException("The file sink cannot create its directory " + dir + ": " + e, e);
            }
            if (!Files.isWritable(dir)) {
                throw new UncheckedIOException(new IOException("The file sink cannot write into its directory " + dir
                        + ": give the process write permission or choose another directory"));
            }
            return new TransactionalFileSink<>(dir, new FileTransactionHandler<>(dir, encoder, prefix));
        }
    }
}
