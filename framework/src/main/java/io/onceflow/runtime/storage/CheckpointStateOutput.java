package io.onceflow.runtime.storage;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Where one subtask's state of a checkpoint is streamed to; closing it makes the bytes durable and
 * tells where they are. Used by one thread.
 */
public abstract class CheckpointStateOutput extends OutputStream {

    /** Makes what was written durable (for files: fsync) and returns where it is. */
    public abstract StateHandle closeAndGetHandle() throws IOException;

    /** Abandons the output (a failed snapshot): whatever was written may be deleted. */
    public abstract void discard();

    @Override
    public void close() {
        discard();
    }

    /**
     * Keeps the first {@code threshold} bytes in memory: state that stays that small goes inside the
     * checkpoint's metadata ({@link StateHandle.Inline}); bigger state spills into {@code target}.
     */
    public static CheckpointStateOutput inlineUpTo(int threshold, IOSupplier<CheckpointStateOutput> target) {
        return new CheckpointStateOutput() {
            private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(Math.min(threshold + 1, 8192));
            private CheckpointStateOutput spilled;

            private OutputStream out(int more) throws IOException {
                if (spilled == null && buffer.size() + more > threshold) {
                    spilled = target.get();
                    buffer.writeTo(spilled);
                    buffer.reset();
                }
                return spilled != null ? spilled : buffer;
            }

            @Override
            public void write(int b) throws IOException {
                out(1).write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out(len).write(b, off, len);
            }

            @Override
            public StateHandle closeAndGetHandle() throws IOException {
                return spilled != null ? spilled.closeAndGetHandle() : new StateHandle.Inline(buffer.toByteArray());
            }

            @Override
            public void discard() {
                if (spilled != null) {
                    spilled.discard();
                }
            }
        };
    }

    /** A supplier that may fail with an {@link IOException}. */
    @FunctionalInterface
    public interface IOSupplier<T> {
        T get() throws IOException;
    }
}
