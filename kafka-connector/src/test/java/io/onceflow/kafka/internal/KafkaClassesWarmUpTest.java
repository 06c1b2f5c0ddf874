package io.onceflow.kafka.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.sink.KafkaSink;
import io.onceflow.kafka.source.KafkaSource;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class KafkaClassesWarmUpTest {

    @Test
    void buildingAKafkaSourceOrSinkStartsTheWarmUpOnItsOwnThread() throws Exception {
        // the builders are the only callers of start(): without them nothing in the process starts the warm-up
        KafkaSource.builder();
        KafkaSink.builder();
        assertTrue(KafkaClassesWarmUp.awaitDone(60, TimeUnit.SECONDS),
                "building a Kafka source and sink should have started the warm-up, and it should have ended");
    }

    @Test
    void everyClassOfTheWarmUpInitialises() {
        // a Kafka clients upgrade that made one of them fail would leave the warm-up doing less than it says
        assertEquals(KafkaClassesWarmUp.CLASSES.size(), KafkaClassesWarmUp.initialise());
    }
}
