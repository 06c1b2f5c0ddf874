package io.onceflow.kafka.sink;

import io.onceflow.api.sink.Sink;
import java.time.Duration;
import java.util.Objects;
import java.util.Properties;

/**
 * Builds a Kafka sink. {@link #build()} checks every option at once; checks that need the job or the
 * broker (transaction timeout against checkpoint timing and {@code transaction.max.timeout.ms}, a
 * prefix used by two sinks) run when the job starts.
 */
public final class KafkaSinkBuilder<T> {

    String bootstrapServers;
    KafkaRecordSerializer<T> serializer;
    DeliveryGuarantee guarantee = DeliveryGuarantee.EXACTLY_ONCE;
    String transactionalIdPrefix;
    Duration transactionTimeout;
    Duration recoveryTime = KafkaSink.RECOVERY_MARGIN;
    boolean ignoreFailuresAfterTransactionTimeout;
    final Properties properties = new Properties();

    KafkaSinkBuilder() {
    }

    public KafkaSinkBuilder<T> setBootstrapServers(String bootstrapServers) {
        this.bootstrapServers = bootstrapServers;
        return this;
    }

    public KafkaSinkBuilder<T> setRecordSerializer(KafkaRecordSerializer<T> serializer) {
        this.serializer = Objects.requireNonNull(serializer, "serializer");
        return this;
    }

    /** Default {@link DeliveryGuarantee#EXACTLY_ONCE}. */
    public KafkaSinkBuilder<T> setDeliveryGuarantee(DeliveryGuarantee guarantee) {
        this.guarantee = Objects.requireNonNull(guarantee, "guarantee");
        return this;
    }

    /**
     * Names this sink's Kafka transactions: {@code <prefix>-<subtask>-<n>}. Required for EXACTLY_ONCE;
     * keep it stable across restarts and unique among all applications writing to the cluster.
     */
    public KafkaSinkBuilder<T> setTransactionalIdPrefix(String prefix) {
        this.transactionalIdPrefix = prefix;
        return this;
    }

    /**
     * How long the broker keeps a transaction open before aborting it. It must cover a checkpoint
     * interval, the checkpoint timeout and the time to restart after a failure, or a pre-committed
     * transaction is aborted before it can be committed. Default: the broker's
     * {@code transaction.max.timeout.ms}, at most 15 minutes.
     */
    public KafkaSinkBuilder<T> setTransactionTimeout(Duration timeout) {
        this.transactionTimeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /**
     * How long the job may take to come back after a failure; the transaction timeout must cover a
     * checkpoint interval, the checkpoint timeout (once per tolerable failed checkpoint, plus one) and
     * this. Default 1 minute. A pre-committed transaction still open when a restart takes longer is
     * aborted by the broker.
     */
    public KafkaSinkBuilder<T> setRecoveryTime(Duration recoveryTime) {
        Objects.requireNonNull(recoveryTime, "recoveryTime");
        if (recoveryTime.isNegative()) {
            throw new IllegalArgumentException("The recovery time must not be negative, was " + recoveryTime);
        }
        this.recoveryTime = recoveryTime;
        return this;
    }

    /**
     * Accepts data loss instead of stopping the job: when the commit of a pre-committed transaction fails
     * because the broker aborted it after the transaction timeout (typically after the job was down for
     * longer than that), the loss is logged at ERROR with the records lost, counted in
     * {@code <sink uid>.recordsLostAfterTransactionTimeout}, and the job goes on. Without it the job stops
     * with a message naming the checkpoint, the transactional id and the records lost.
     */
    public KafkaSinkBuilder<T> ignoreFailuresAfterTransactionTimeout() {
        this.ignoreFailuresAfterTransactionTimeout = true;
        return this;
    }

    /** Any producer property; serializers, idempotence and transactional settings are managed by the sink. */
    public KafkaSinkBuilder<T> setProperty(String key, String value) {
        properties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /** The sink; pass it to {@code DataStream.sinkTo}. */
    public Sink<T> build() {
        StringBuilder problems = new StringBuilder();
        if (bootstrapServers == null || bootstrapServers.isBlank()) {
            problems.append("\n - no bootstrap servers: call setBootstrapServers(\"host:port\")");
        }
        if (serializer == null) {
            problems.append("\n - no record serializer: call setRecordSerializer(...), for example "
                    + "KafkaRecordSerializer.forTopic(\"out\", key, value)");
        }
        if (guarantee == DeliveryGuarantee.EXACTLY_ONCE) {
            if (transactionalIdPrefix == null || transactionalIdPrefix.isBlank()) {
                problems.append("\n - EXACTLY_ONCE needs a transactional id prefix: call setTransactionalIdPrefix(...) "
                        + "with a name unique to this sink and stable across restarts");
            } else if (!transactionalIdPrefix.matches("[A-Za-z0-9._-]+")) {
                problems.append("\n - the transactional id prefix '").append(transactionalIdPrefix)
                        .append("' may only contain letters, digits, '.', '_' and '-'");
            }
        } else if (transactionalIdPrefix != null) {
            problems.append("\n - a transactional id prefix is only used with EXACTLY_ONCE; remove it or choose EXACTLY_ONCE");
        }
        if (ignoreFailuresAfterTransactionTimeout && guarantee != DeliveryGuarantee.EXACTLY_ONCE) {
            problems.append("\n - ignoreFailuresAfterTransactionTimeout() only applies to EXACTLY_ONCE; remove it");
        }
        if (transactionTimeout != null && (transactionTimeout.isNegative() || transactionTimeout.toMillis() < 1000)) {
            problems.append("\n - the transaction timeout must be at least 1 s, was ").append(transactionTimeout);
        }
        for (String managed : new String[] {"transactional.id", "key.serializer", "value.serializer"}) {
            if (properties.containsKey(managed)) {
                problems.append("\n - the producer property ").append(managed).append(" is managed by the sink: remove it");
            }
        }
        if (problems.length() > 0) {
            throw new IllegalArgumentException("The Kafka sink is not configured correctly:" + problems);
        }
        KafkaSink<T> sink = new KafkaSink<>(this);
        return guarantee == DeliveryGuarantee.EXACTLY_ONCE ? new ExactlyOnceKafkaSink<>(sink) : sink;
    }
}
