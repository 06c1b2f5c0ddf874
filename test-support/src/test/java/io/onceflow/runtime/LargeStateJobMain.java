package io.onceflow.runtime;

import io.onceflow.api.RestartStrategies;
import io.onceflow.api.RocksDBStateBackend;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.serialization.Serializers;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.testing.CommittedStore;
import io.onceflow.testing.SequenceSource;
import io.onceflow.testing.TransactionalTestSink;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

/**
 * A job whose RocksDB state is larger than its heap, for {@link LargeStateTest}: every key first gets a
 * value of {@code valueBytes} random bytes (pass one), then, when the key comes again, its value is read
 * back and compared (pass two), which emits {@code "<key>,1"} when it matches and {@code "<key>,0"} when
 * it does not.
 *
 * <p>Arguments: checkpoint dir, output dir, RocksDB dir, keys (even), value bytes.
 */
public final class LargeStateJobMain {

    private LargeStateJobMain() {
    }

    static byte[] valueOf(String key, int size) {
        byte[] bytes = new byte[size];
        new Random(key.hashCode()).nextBytes(bytes);
        return bytes;
    }

    /** Writes each key's value at its first occurrence, checks it at its second. */
    static final class WriteThenCheck extends KeyedProcessFunction<String, String, String> {
        private final int size;
        private transient ValueState<byte[]> value;

        WriteThenCheck(int size) {
            this.size = size;
        }

        @Override
        public void open(RuntimeContext context) {
            value = context.getState(new ValueStateDescriptor<>("value", Serializers.BYTES));
        }

        @Override
        public void processElement(String key, Context<String> ctx, Collector<String> out) throws Exception {
            byte[] stored = value.value();
            if (stored == null) {
                value.update(valueOf(key, size));
            } else {
                out.collect(key + "," + (Arrays.equals(stored, valueOf(key, size)) ? 1 : 0));
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Path checkpoints = Path.of(args[0]);
        Path output = Path.of(args[1]);
        Path rocksdb = Path.of(args[2]);
        int keys = Integer.parseInt(args[3]);
        int size = Integer.parseInt(args[4]);
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.setStateBackend(RocksDBStateBackend.create().withLocalDirectory(rocksdb));
        env.enableCheckpointing(Duration.ofSeconds(2));
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(5));
        env.getCheckpointConfig().setCheckpointStorage(checkpoints.toUri().toString());
        env.setRestartStrategy(RestartStrategies.fixedDelay(3, Duration.ofSeconds(1)));
        // two splits, keys even: a key's two occurrences come from one split, first before second
        env.fromSource(SequenceSource.bounded(2, 2L * keys, keys).throttled(40_000), "keys").uid("source")
                .keyBy(k -> k)
                .process(new WriteThenCheck(size)).uid("state")
                .sinkTo(new TransactionalTestSink(CommittedStore.inDirectory(output))).uid("sink");
        System.out.println("FINISHED " + env.execute("large-state"));
        long peakHeap = java.lang.management.ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == java.lang.management.MemoryType.HEAP)
                .mapToLong(p -> p.getPeakUsage().getUsed()).sum();
        System.out.println("PEAK HEAP " + peakHeap);
    }
}
