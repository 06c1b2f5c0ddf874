package io.onceflow.kafka.sink.internal;

/**
 * The kafka-clients on the classpath cannot be used to resume transactions after a crash (see
 * {@link ProducerInternals}). Thrown before any producer is created, so that a job fails at start-up rather
 * than at its first recovery.
 */
public class UnsupportedKafkaClientsException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    private final String foundVersion;
    private final String supportedVersions;

    public UnsupportedKafkaClientsException(String foundVersion, String supportedVersions, String problem) {
        super("Onceflow's exactly-once Kafka sink cannot use kafka-clients " + foundVersion + ": " + problem
                + ". Supported kafka-clients versions: " + supportedVersions + ". What to do: depend on"
                + " org.apache.kafka:kafka-clients " + supportedVersions + " (the version Onceflow is built with;"
                + " pin it in your dependencyManagement if another dependency pulls a different one), or use an"
                + " Onceflow release that supports kafka-clients " + foundVersion + ".");
        this.foundVersion = foundVersion;
        this.supportedVersions = supportedVersions;
    }

    public String foundVersion() {
        return foundVersion;
    }

    public String supportedVersions() {
        return supportedVersions;
    }
}
