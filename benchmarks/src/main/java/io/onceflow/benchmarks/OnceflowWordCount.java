package io.onceflow.benchmarks;

import io.onceflow.api.CheckpointingMode;
import io.onceflow.api.HeapStateBackend;
import io.onceflow.api.JobClient;
import io.onceflow.api.KeyedValue;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.api.functions.RuntimeContext;
import io.onceflow.api.state.ValueState;
import io.onceflow.api.state.ValueStateDescriptor;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import io.onceflow.kafka.sink.KafkaRecordSerializer;
import io.onceflow.kafka.sink.KafkaSink;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The benchmark's running word count in Onceflow: Kafka source, split on spaces, key by word, a running
 * count in heap keyed state, Kafka sink; checkpoints every interval to a local directory. Runs until
 * killed, printing each checkpoint's phases (see {@link CheckpointPhases}). Arguments: {@code exactly-once|exactly-once-full|at-least-once} (full: heap checkpoints in full, not incremental), bootstrap servers, input topic, output topic, run
 * name, interval ms, parallelism, checkpoint directory.
 */
public final class OnceflowWordCount {

    private OnceflowWordCount() {
    }

    public static void main(String[] args) throws Exception {
        boolean exactlyOnce = args[0].startsWith("exactly-once");
        boolean fullCheckpoints = args[0].equals("exactly-once-full");
        String bootstrap = args[1];
        String input = args[2];
        String output = args[3];
        String run = args[4];
        Duration interval = Duration.ofMillis(Long.parseLong(args[5]));
        int parallelism = Integer.parseInt(args[6]);
        Path checkpoints = Path.of(args[7]);

        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(interval, exactlyOnce ? CheckpointingMode.EXACTLY_ONCE : CheckpointingMode.AT_LEAST_ONCE);
        env.getCheckpointConfig().setCheckpointStorage(checkpoints.toUri().toString());
        env.setStateBackend(new HeapStateBackend().withIncrementalCheckpoints(!fullCheckpoints));

        KafkaSource<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(input)
                .setGroupId(run)
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .build();
        var sink = KafkaSink.<KeyedValue<String, Long>>builder()
                .setBootstrapServers(bootstrap)
                .setRecordSerializer(KafkaRecordSerializer.forTopic(output,
                        kv -> kv.key().getBytes(StandardCharsets.UTF_8),
                        kv -> Long.toString(kv.value()).getBytes(StandardCharsets.UTF_8)))
                .setDeliveryGuarantee(exactlyOnce ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE);
        if (exactlyOnce) {
            sink.setTransactionalIdPrefix(run);
        }
        env.fromSource(source, "input").uid("input")
                .flatMap(new Split()).uid("split")
                .keyBy(w -> w)
                .process(new Count()).uid("count")
                .sinkTo(sink.build()).uid("output");
        try (JobClient job = env.executeAsync(run)) {
            CheckpointPhases.printUntilEnd(job);
        }
    }

    static final class Split implements FlatMapFunction<String, String> {
        @Override
        public void flatMap(String line, Collector<String> out) {
            FirstInput.mark();
            FirstInput.split(line, out::collect);
        }
    }

    static final class Count extends KeyedProcessFunction<String, String, KeyedValue<String, Long>> {
        private transient ValueState<Long> count;

        @Override
        public void open(RuntimeContext context) {
            count = context.getState(new ValueStateDescriptor<>("count", Long.class));
        }

        @Override
        public void processElement(String word, Context<String> ctx, Collector<KeyedValue<String, Long>> out)
                throws Exception {
            Long current = count.value();
            long next = current == null ? 1 : current + 1;
            count.update(next);
            out.collect(new KeyedValue<>(word, next));
        }
    }
}
