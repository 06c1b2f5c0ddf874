package io.onceflow.kafka.sink;

import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.Collector;
import io.onceflow.api.functions.FlatMapFunction;
import io.onceflow.api.sink.Sink;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.testing.RunningCount;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Kafka → split → keyed running count → Kafka, the pipeline of the exactly-once tests. */
final class CountPipeline {

    /** Failures still to be thrown from inside the split function (shared by all copies of it). */
    static final AtomicInteger RECORD_FAILURES = new AtomicInteger();

    private CountPipeline() {
    }

    static StreamEnvironment build(String bootstrap, String input, String output, int parallelism,
                                   DeliveryGuarantee guarantee, String prefix, Duration interval) {
        return build(bootstrap, input, output, parallelism, guarantee, prefix, interval, null);
    }

    /**
     * With a dead-letter topic, input that is not valid UTF-8 goes there, exactly once, in the same
     * checkpoints as the counts.
     */
    static StreamEnvironment build(String bootstrap, String input, String output, int parallelism,
                                   DeliveryGuarantee guarantee, String prefix, Duration interval, String deadLetterTopic) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(parallelism);
        env.enableCheckpointing(interval);
        env.getCheckpointConfig().setCheckpointStorage("memory:"); // repeats output only after a process restart
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofSeconds(30));
        env.setRestartStrategy(RestartStrategies.fixedDelay(20, Duration.ofMillis(50)));
        var source = KafkaSource.<String>builder().setBootstrapServers(bootstrap).setTopics(input)
                .setDeserializer(KafkaRecordDeserializer.strictUtf8Values()).setBounded();
        if (deadLetterTopic != null) {
            source.enableDeadLetters();
        }
        var lines = env.fromSource(source.build(), "input").uid("input");
        if (deadLetterTopic != null) {
            lines.getSideOutput(KafkaSource.DEAD_LETTERS)
                    .sinkTo(KafkaSink.<io.onceflow.kafka.source.DeadLetter>builder().setBootstrapServers(bootstrap)
                            .setRecordSerializer(io.onceflow.kafka.source.DeadLetter.toTopic(deadLetterTopic))
                            .setTransactionalIdPrefix(prefix + "-dlq").build()).uid("dead-letters");
        }
        lines.flatMap(new SlowSplit()).uid("split")
                .keyBy(w -> w)
                .process(new RunningCount()).uid("count")
                .sinkTo(sink(bootstrap, output, guarantee, prefix)).uid("output");
        return env;
    }

    static Sink<String> sink(String bootstrap, String output, DeliveryGuarantee guarantee, String prefix) {
        KafkaSinkBuilder<String> b = KafkaSink.<String>builder().setBootstrapServers(bootstrap)
                .setRecordSerializer(line -> {
                    int comma = line.lastIndexOf(',');
                    return new ProducerRecord<>(output, line.substring(0, comma).getBytes(StandardCharsets.UTF_8),
                            line.substring(comma + 1).getBytes(StandardCharsets.UTF_8));
                })
                .setDeliveryGuarantee(guarantee);
        if (guarantee == DeliveryGuarantee.EXACTLY_ONCE) {
            b.setTransactionalIdPrefix(prefix);
        }
        return b.build();
    }

    /** Splits on whitespace, a little slowly (so checkpoints and failures land mid-run), failing when asked. */
    static final class SlowSplit implements FlatMapFunction<String, String> {
        private long seen;

        @Override
        public void flatMap(String line, Collector<String> out) throws Exception {
            if (++seen % 10 == 0) {
                Thread.sleep(1);
            }
            if (seen % 997 == 0 && RECORD_FAILURES.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new IllegalStateException("injected failure while processing record " + seen);
            }
            for (String w : line.split("\\s+")) {
                if (!w.isEmpty()) {
                    out.collect(w);
                }
            }
        }
    }
}
