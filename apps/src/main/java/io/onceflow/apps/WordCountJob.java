package io.onceflow.apps;

import io.onceflow.api.KeyedValue;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import io.onceflow.kafka.sink.KafkaRecordSerializer;
import io.onceflow.kafka.sink.KafkaSink;
import io.onceflow.kafka.sink.KafkaSinkBuilder;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.kafka.source.KafkaSourceBuilder;
import io.onceflow.api.functions.MapFunction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The word-count pipeline: text lines from Kafka, split on whitespace, a running count per word in
 * keyed state, and for every occurrence one record to Kafka with key = the word and value = its count
 * so far as a decimal string, so a word's values are 1, 2, 3, … in order.
 */
final class WordCountJob {

    /** What the pipeline needs to know. */
    record Settings(String bootstrapServers, String input, String output, Path checkpointDir, Duration interval,
                    int parallelism, DeliveryGuarantee delivery, String jobName, boolean bounded) {
    }

    private WordCountJob() {
    }

    static StreamEnvironment build(Settings s) {
        return build(s, new WordCounter(), null);
    }

    /**
     * @param counter the counting function (the demo's tests swap in a broken one)
     * @param pace    a map applied to every line before splitting, or null
     */
    static StreamEnvironment build(Settings s, KeyedProcessFunction<String, String, KeyedValue<String, Long>> counter,
                                   MapFunction<String, String> pace) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(s.parallelism());
        env.enableCheckpointing(s.interval());
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(1));
        env.getCheckpointConfig().setCheckpointStorage(s.checkpointDir().toUri().toString());

        KafkaSourceBuilder<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(s.bootstrapServers())
                .setTopics(s.input())
                .setDeserializer(KafkaRecordDeserializer.utf8Values())
                .setGroupId("onceflow-" + s.jobName());
        if (s.bounded()) {
            source.setBounded();
        }
        String output = s.output();
        KafkaSinkBuilder<KeyedValue<String, Long>> sink = KafkaSink.<KeyedValue<String, Long>>builder()
                .setBootstrapServers(s.bootstrapServers())
                .setRecordSerializer(KafkaRecordSerializer.forTopic(output,
                        kv -> kv.key().getBytes(StandardCharsets.UTF_8),
                        kv -> Long.toString(kv.value()).getBytes(StandardCharsets.UTF_8)))
                .setDeliveryGuarantee(s.delivery());
        if (s.delivery() == DeliveryGuarantee.EXACTLY_ONCE) {
            sink.setTransactionalIdPrefix("onceflow-" + s.jobName());
        }

        var lines = env.fromSource(source.build(), "kafka-input").uid("kafka-input");
        if (pace != null) {
            lines = lines.map(pace).uid("pace");
        }
        lines.flatMap(new SplitWords()).uid("split")
                .keyBy(w -> w)
                .process(counter).uid("count")
                .sinkTo(sink.build()).uid("kafka-output");
        return env;
    }
}
