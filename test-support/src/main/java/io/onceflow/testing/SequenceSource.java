package io.onceflow.testing;

import io.onceflow.api.serialization.VersionedSerializer;
import io.onceflow.api.source.Boundedness;
import io.onceflow.api.source.InputStatus;
import io.onceflow.api.source.ReaderOutput;
import io.onceflow.api.source.Source;
import io.onceflow.api.source.SourceReader;
import io.onceflow.api.source.SourceReaderContext;
import io.onceflow.api.source.SourceSplit;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A replayable, deterministic test source: {@code splits} splits together emit {@code total} words,
 * record {@code g} (0-based, over all splits) being {@code "key-" + (g % keys)}, so each key occurs
 * {@code total / keys} times (± 1). Split {@code j} emits the records {@code g = j, j + splits, …}; its
 * position is the next {@code g}. Optionally throttled to a rate per split, so that failures land
 * in the middle of a run.
 */
public final class SequenceSource implements Source<String, SequenceSource.Split> {

    private final int splits;
    private final long total;
    private final int keys;
    private final int recordsPerSecondPerSplit;
    private final boolean bounded;

    private SequenceSource(int splits, long total, int keys, int rate, boolean bounded) {
        this.splits = splits;
        this.total = total;
        this.keys = keys;
        this.recordsPerSecondPerSplit = rate;
        this.bounded = bounded;
    }

    /** A bounded source of {@code total} words over {@code keys} keys in {@code splits} splits, unthrottled. */
    public static SequenceSource bounded(int splits, long total, int keys) {
        return new SequenceSource(splits, total, keys, 0, true);
    }

    /** The same source emitting at most {@code perSecond} records per second per split. */
    public SequenceSource throttled(int perSecond) {
        return new SequenceSource(splits, total, keys, perSecond, bounded);
    }

    /** An endless source (total is ignored): for benchmarks. */
    public static SequenceSource unbounded(int splits, int keys) {
        return new SequenceSource(splits, Long.MAX_VALUE, keys, 0, false);
    }

    /**
     * An unbounded source that emits {@code total} words and then waits for more that never come: the
     * job runs until it is stopped or cancelled.
     */
    public static SequenceSource idleAfter(int splits, long total, int keys) {
        return new SequenceSource(splits, total, keys, 0, false);
    }

    /** How often key {@code k} occurs among the first {@code total} records. */
    public static long expectedCount(long total, int keys, int k) {
        return total / keys + (k < total % keys ? 1 : 0);
    }

    public long total() {
        return total;
    }

    public int keys() {
        return keys;
    }

    @Override
    public Boundedness getBoundedness() {
        return bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public List<Split> createInitialSplits() {
        List<Split> list = new ArrayList<>();
        for (int j = 0; j < splits; j++) {
            list.add(new Split(j, j));
        }
        return list;
    }

    @Override
    public SourceReader<String, Split> createReader(SourceReaderContext context) {
        return new Reader(context);
    }

    @Override
    public VersionedSerializer<Split> getSplitSerializer() {
        return SplitSerializer.INSTANCE;
    }

    /** Split {@code index}; {@code next} is the global index of the next record it emits. */
    public record Split(int index, long next) implements SourceSplit {
        @Override
        public String splitId() {
            return "split-" + index;
        }
    }

    private final class Reader implements SourceReader<String, Split> {
        private final List<long[]> positions = new ArrayList<>();
        private final SourceReaderContext context;
        private long startNanos;
        private long emitted;

        Reader(SourceReaderContext context) {
            this.context = context;
        }

        @Override
        public void addSplits(List<Split> added) {
            for (Split s : added) {
                positions.add(new long[] {s.index(), s.next()});
            }
        }

        @Override
        public void start() {
            startNanos = System.nanoTime();
        }

        @Override
        public InputStatus pollNext(ReaderOutput<String> output) {
            if (recordsPerSecondPerSplit > 0) {
                long allowed = (System.nanoTime() - startNanos) * recordsPerSecondPerSplit * Math.max(1, positions.size())
                        / 1_000_000_000L;
                if (emitted >= allowed) {
                    return anyLeft() || !bounded ? InputStatus.NOTHING_AVAILABLE : InputStatus.END_OF_INPUT;
                }
            }
            boolean any = false;
            for (long[] p : positions) {
                if (p[1] < total) {
                    output.collect("key-" + (p[1] % keys));
                    if (recordsPerSecondPerSplit > 0) {
                        // a throttled sequence stands for live input: its records are made now (end-to-end latency)
                        context.recordInputTimestamp(System.currentTimeMillis());
                    }
                    p[1] += splits;
                    emitted++;
                    any = true;
                }
            }
            if (!any) {
                return bounded ? InputStatus.END_OF_INPUT : InputStatus.NOTHING_AVAILABLE;
            }
            return InputStatus.MORE_AVAILABLE;
        }

        private boolean anyLeft() {
            for (long[] p : positions) {
                if (p[1] < total) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public List<Split> snapshotState(long checkpointId) {
            List<Split> result = new ArrayList<>();
            for (long[] p : positions) {
                result.add(new Split((int) p[0], p[1]));
            }
            return result;
        }
    }

    private enum SplitSerializer implements VersionedSerializer<Split> {
        INSTANCE;

        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(Split split) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(split.index());
            out.writeLong(split.next());
            out.flush();
            return bytes.toByteArray();
        }

        @Override
        public Split deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("Unknown SequenceSource split version " + version);
            }
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
            return new Split(in.readInt(), in.readLong());
        }
    }
}
