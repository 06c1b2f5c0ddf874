package io.onceflow.kafka.broker;

/**
 * A Kafka broker launched by {@link KafkaBrokerLauncher} could not be started (or was misconfigured).
 * The message says what went wrong, what to check and, when the broker JVM ran, ends with the last
 * lines of its log.
 */
public class KafkaBrokerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public KafkaBrokerException(String message) {
        super(message);
    }

    public KafkaBrokerException(String message, Throwable cause) {
        super(message, cause);
    }
}
