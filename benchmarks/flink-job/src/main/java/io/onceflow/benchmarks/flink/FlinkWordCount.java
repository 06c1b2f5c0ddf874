package io.onceflow.benchmarks.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The benchmark's running word count in Apache Flink: Kafka source, split on spaces, key by word, a
 * running count in heap keyed state, Kafka sink EXACTLY_ONCE with checkpoints every interval. Runs on the
 * local MiniCluster a plain {@code main} gets. Prints {@code FIRST_INPUT <epoch ms>} when the first line
 * arrives; the benchmark measures everything else from outside.
 *
 * <p>Checkpoints go to the given directory and are retained; a start that finds a completed one there
 * resumes from the newest (as {@code flink run -s} would), which is how the benchmark restarts Flink after a
 * {@code kill -9}.
 *
 * <p>Arguments: bootstrap servers, input topic, output topic, run name, interval ms, parallelism, checkpoint
 * directory.
 */
public final class FlinkWordCount {

    private FlinkWordCount() {
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String input = args[1];
        String output = args[2];
        String run = args[3];
        long intervalMillis = Long.parseLong(args[4]);
        int parallelism = Integer.parseInt(args[5]);
        Path checkpoints = Path.of(args[6]);

        Map<String, String> config = new HashMap<>();
        config.put("execution.checkpointing.dir", checkpoints.toUri().toString());
        config.put("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
        Optional<Path> newest = newestCheckpoint(checkpoints);
        newest.ifPresent(chk -> config.put("execution.state-recovery.path", chk.toUri().toString()));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(Configuration.fromMap(config));
        env.setParallelism(parallelism);
        env.enableCheckpointing(intervalMillis); // EXACTLY_ONCE is the default mode

        KafkaSource<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(input)
                .setGroupId(run)
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setValueOnlyDeserializer(new SimpleStringSchema())
                .build();
        KafkaSink<Tuple2<String, Long>> sink = KafkaSink.<Tuple2<String, Long>>builder()
                .setBootstrapServers(bootstrap)
                .setRecordSerializer(KafkaRecordSerializationSchema.<Tuple2<String, Long>>builder()
                        .setTopic(output)
                        .setKeySerializationSchema(new WordBytes())
                        .setValueSerializationSchema(new CountBytes())
                        .build())
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(run)
                .setProperty("transaction.timeout.ms", "900000")
                .build();

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "input")
                .flatMap(new Split()).returns(Types.STRING)
                .keyBy(new ByWord())
                .process(new Count()).returns(Types.TUPLE(Types.STRING, Types.LONG))
                .sinkTo(sink);
        env.execute(run);
    }

    /** The newest {@code <dir>/<job id>/chk-N} with its {@code _metadata} written, if any. */
    static Optional<Path> newestCheckpoint(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.walk(dir, 3)) {
            return files.filter(f -> f.getFileName().toString().equals("_metadata"))
                    .map(Path::getParent)
                    .filter(chk -> chk.getFileName().toString().startsWith("chk-"))
                    .max(Comparator.comparingLong(chk -> Long.parseLong(chk.getFileName().toString().substring(4))));
        }
    }

    private static final AtomicBoolean FIRST = new AtomicBoolean();

    static final class Split implements FlatMapFunction<String, String> {
        @Override
        public void flatMap(String line, Collector<String> out) {
            if (!FIRST.get() && FIRST.compareAndSet(false, true)) {
                System.out.println("FIRST_INPUT " + System.currentTimeMillis());
                System.out.flush();
            }
            int start = 0;
            for (int i = 0; i <= line.length(); i++) {
                if (i == line.length() || line.charAt(i) == ' ') {
                    if (i > start) {
                        out.collect(line.substring(start, i));
                    }
                    start = i + 1;
                }
            }
        }
    }

    // classes, not lambdas: Flink's type extraction cannot see a lambda's type arguments
    static final class WordBytes implements SerializationSchema<Tuple2<String, Long>> {
        @Override
        public byte[] serialize(Tuple2<String, Long> t) {
            return t.f0.getBytes(StandardCharsets.UTF_8);
        }
    }

    static final class CountBytes implements SerializationSchema<Tuple2<String, Long>> {
        @Override
        public byte[] serialize(Tuple2<String, Long> t) {
            return Long.toString(t.f1).getBytes(StandardCharsets.UTF_8);
        }
    }

    static final class ByWord implements KeySelector<String, String> {
        @Override
        public String getKey(String word) {
            return word;
        }
    }

    static final class Count extends KeyedProcessFunction<String, String, Tuple2<String, Long>> {
        private transient ValueState<Long> count;

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
        }

        @Override
        public void processElement(String word, Context ctx, Collector<Tuple2<String, Long>> out) throws Exception {
            Long current = count.value();
            long next = current == null ? 1 : current + 1;
            count.update(next);
            out.collect(Tuple2.of(word, next));
        }
    }
}
