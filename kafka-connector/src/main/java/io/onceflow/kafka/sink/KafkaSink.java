package io.onceflow.kafka.sink;

import io.onceflow.api.CheckpointConfig;
import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.kafka.internal.KafkaClassesWarmUp;
import io.onceflow.kafka.internal.SharedAdmin;
import io.onceflow.kafka.sink.internal.TransactionalProducer;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a stream to Kafka with the chosen {@link DeliveryGuarantee}.
 *
 * <pre>{@code
 * Sink<KeyedValue<String, Long>> sink = KafkaSink.<KeyedValue<String, Long>>builder()
 *         .setBootstrapServers("localhost:9092")
 *         .setRecordSerializer(KafkaRecordSerializer.forTopic("counts",
 *                 kv -> kv.key().getBytes(UTF_8), kv -> kv.value().toString().getBytes(UTF_8)))
 *         .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
 *         .setTransactionalIdPrefix("word-count")
 *         .build();
 * }</pre>
 *
 * With EXACTLY_ONCE the records of each checkpoint interval go into one Kafka transaction per subtask,
 * pre-committed at the barrier and committed when the checkpoint completes (on the two-phase-commit
 * template); a transaction pre-committed before a crash is resumed and committed by the restarted job.
 * When the job starts, the sink checks its transaction timeout against the broker's
 * {@code transaction.max.timeout.ms} and the job's checkpoint timing, and that no other sink of the job
 * uses its transactional id prefix.
 */
public final class KafkaSink<T> implements Sink<T>, ValidatesConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaSink.class);
    static final Duration DEFAULT_MAX_TRANSACTION_TIMEOUT = Duration.ofMinutes(15);
    /** Time a transaction must survive beyond a checkpoint's interval and timeout: the restart after a crash. */
    static final Duration RECOVERY_MARGIN = Duration.ofMinutes(1);

    final String bootstrapServers;
    final KafkaRecordSerializer<T> serializer;
    final DeliveryGuarantee guarantee;
    final String transactionalIdPrefix;
    final Properties properties;
    final Duration recoveryTime;
    final boolean ignoreFailuresAfterTransactionTimeout;
    private volatile Duration transactionTimeout;

    KafkaSink(KafkaSinkBuilder<T> b) {
        this.bootstrapServers = b.bootstrapServers;
        this.serializer = b.serializer;
        this.guarantee = b.guarantee;
        this.transactionalIdPrefix = b.transactionalIdPrefix;
        this.transactionTimeout = b.transactionTimeout;
        this.recoveryTime = b.recoveryTime;
        this.ignoreFailuresAfterTransactionTimeout = b.ignoreFailuresAfterTransactionTimeout;
        this.properties = new Properties();
        this.properties.putAll(b.properties);
    }

    /**
     * {@code linger.ms} of an EXACTLY_ONCE sink's producers unless set: how long a batch may wait to fill up. In a
     * transaction a record is visible at the commit however soon it was sent, and the barrier's flush sends what
     * waits, so waiting longer costs no latency and makes fuller batches (fewer requests for the producer and the
     * broker), as Kafka Streams' producers do.
     */
    static final long TRANSACTIONAL_LINGER_MS = 20;
    /** {@code linger.ms} of the other guarantees' producers unless set: their records are visible once written. */
    static final long LINGER_MS = 5;

    public static <T> KafkaSinkBuilder<T> builder() {
        KafkaClassesWarmUp.start(); // the job's first Kafka client will need them soon
        return new KafkaSinkBuilder<>();
    }

    public DeliveryGuarantee getDeliveryGuarantee() {
        return guarantee;
    }

    @Override
    public SinkWriter<T> createWriter(SinkInitContext context) {
        return new KafkaWriter<>(producerProperties(context.getJobName() + "-" + context.getOperatorUid() + "-"
                + context.getIndexOfSubtask()), serializer, guarantee);
    }

    /** Producer properties: the user's, plus what the sink manages. */
    Properties producerProperties(String clientId) {
        Properties p = new Properties();
        p.put(ProducerConfig.LINGER_MS_CONFIG, Long.toString(guarantee == DeliveryGuarantee.EXACTLY_ONCE
                ? TRANSACTIONAL_LINGER_MS : LINGER_MS));
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(128 * 1024));
        // initTransactions() on an id whose transaction is still open (a restart's aborts) is answered "concurrent
        // transactions" until the broker has aborted it, and retried after this backoff (growing to
        // retry.backoff.max.ms): 20 ms, as the producer itself uses for that answer elsewhere, not 100
        p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, TransactionalProducer.RETRY_BACKOFF_MS);
        p.putAll(properties);
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "onceflow-" + clientId);
        if (guarantee != DeliveryGuarantee.NONE) {
            p.put(ProducerConfig.ACKS_CONFIG, "all");
        }
        if (guarantee == DeliveryGuarantee.EXACTLY_ONCE) {
            Duration timeout = transactionTimeout != null ? transactionTimeout : DEFAULT_MAX_TRANSACTION_TIMEOUT;
            p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, Long.toString(timeout.toMillis()));
        }
        return p;
    }

    @Override
    public void validate(Context context) throws Exception {
        // an EXACTLY_ONCE sink is validated by its ExactlyOnceKafkaSink, with its writers' Admin client; this one
        // is for the sink on its own, created here, used and closed after the linger
        validate(context, new SharedAdmin(() -> TransactionalProducer.adminProperties(producerProperties("check")),
                Runnable::run));
    }

    /** {@link #validate(Context)} asking the broker with {@code admin}. */
    void validate(Context context, SharedAdmin admin) throws Exception {
        if (guarantee != DeliveryGuarantee.EXACTLY_ONCE) {
            return;
        }
        Object other = context.shared().putIfAbsent("kafka.transactional.id.prefix:" + transactionalIdPrefix,
                context.operatorUid());
        if (other != null) {
            throw new IllegalArgumentException("Kafka sinks '" + other + "' and '" + context.operatorUid()
                    + "' use the same transactional id prefix '" + transactionalIdPrefix + "': they would fence each "
                    + "other's transactions; give each sink its own prefix");
        }
        Duration brokerMax = admin.use(a -> BrokerSettings.transactionMaxTimeout(a, bootstrapServers));
        if (transactionTimeout == null) {
            transactionTimeout = brokerMax.compareTo(DEFAULT_MAX_TRANSACTION_TIMEOUT) < 0 ? brokerMax
                    : DEFAULT_MAX_TRANSACTION_TIMEOUT;
        } else if (transactionTimeout.compareTo(brokerMax) > 0) {
            throw new IllegalArgumentException("Kafka sink '" + context.operatorUid() + "': the transaction timeout "
                    + millis(transactionTimeout) + " is above the broker's transaction.max.timeout.ms ("
                    + millis(brokerMax) + "): lower setTransactionTimeout(...) to at most " + millis(brokerMax)
                    + ", or raise transaction.max.timeout.ms on the brokers");
        }
        CheckpointConfig checkpoints = context.checkpointConfig();
        if (checkpoints.isCheckpointingEnabled()) {
            // a transaction pre-committed at checkpoint n waits for the first later checkpoint that completes:
            // through every tolerable failed one, each taking up to an interval plus the checkpoint timeout
            int attempts = checkpoints.getTolerableCheckpointFailureNumber() + 1;
            Duration needed = checkpoints.getCheckpointInterval().plus(checkpoints.getCheckpointTimeout())
                    .multipliedBy(attempts).plus(recoveryTime);
            if (transactionTimeout.compareTo(needed) < 0) {
                throw new IllegalArgumentException("Kafka sink '" + context.operatorUid() + "': the transaction timeout "
                        + millis(transactionTimeout) + " is not comfortably larger than the checkpoint interval ("
                        + millis(checkpoints.getCheckpointInterval()) + ") plus the checkpoint timeout ("
                        + millis(checkpoints.getCheckpointTimeout()) + ")" + (attempts > 1 ? ", for each of "
                        + attempts + " checkpoints in a row (" + (attempts - 1) + " tolerable failed ones and the one "
                        + "that completes)" : "") + ", plus the recovery time (" + millis(recoveryTime) + "): a "
                        + "pre-committed transaction could be aborted by the broker before a checkpoint completes and "
                        + "commits it, and its records would be lost. Make the transaction timeout at least "
                        + millis(needed) + ", or shorten the checkpoint timeout, tolerate fewer failed checkpoints, or "
                        + "lower setRecoveryTime(...)");
            }
        } else {
            LOG.warn("Kafka sink '{}' is EXACTLY_ONCE but checkpointing is off: its transactions commit only at the "
                    + "end of a bounded input", context.operatorUid());
        }
    }

    Duration transactionTimeout() {
        return transactionTimeout != null ? transactionTimeout : DEFAULT_MAX_TRANSACTION_TIMEOUT;
    }

    private static String millis(Duration d) {
        return d.toMillis() + " ms";
    }
}
