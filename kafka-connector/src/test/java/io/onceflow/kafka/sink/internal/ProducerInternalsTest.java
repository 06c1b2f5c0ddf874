package io.onceflow.kafka.sink.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ProducerInternalsTest {
    @Test
    void acceptsTheKafkaClientsOfTheBuild() {
        ProducerInternals.verify();
        assertTrue(ProducerInternals.kafkaClientsVersion().startsWith("4.3."), ProducerInternals.kafkaClientsVersion());
        assertFalse(ProducerInternals.isUntestedVersionAccepted());
    }

    @Test
    void theUnsupportedVersionMessageSaysWhatWasFoundWhatIsSupportedAndWhatToDo() {
        String m = new UnsupportedKafkaClientsException("9.9.9", ProducerInternals.SUPPORTED_VERSIONS,
                "its producer internals differ").getMessage();
        assertTrue(m.contains("kafka-clients 9.9.9"), m);
        assertTrue(m.contains("Supported kafka-clients versions: 4.3.x"), m);
        assertTrue(m.contains("What to do"), m);
    }

    @Test
    void onlyTestedVersionsAreSupported() {
        assertTrue(ProducerInternals.isTestedVersion("4.3.1"));
        assertFalse(ProducerInternals.isTestedVersion("4.2.0"));
        assertFalse(ProducerInternals.isTestedVersion("4.4.0"));
        assertFalse(ProducerInternals.isTestedVersion("4.30.0"));
    }
}
