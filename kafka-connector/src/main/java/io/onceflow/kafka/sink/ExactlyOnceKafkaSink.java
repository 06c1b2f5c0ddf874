package io.onceflow.kafka.sink;

import io.onceflow.twophase.ForwardingTwoPhaseCommitSink;
import io.onceflow.twophase.TwoPhaseCommitSink;

/** An EXACTLY_ONCE {@link KafkaSink}: Kafka transactions on the two-phase-commit template. */
final class ExactlyOnceKafkaSink<T> extends ForwardingTwoPhaseCommitSink<T, KafkaTransaction> {

    private final KafkaSink<T> config;
    private final KafkaTransactionHandler<T> handler;

    ExactlyOnceKafkaSink(KafkaSink<T> config) {
        this(config, new KafkaTransactionHandler<>(config));
    }

    private ExactlyOnceKafkaSink(KafkaSink<T> config, KafkaTransactionHandler<T> handler) {
        super(template(config, handler));
        this.config = config;
        this.handler = handler;
    }

    private static <T> TwoPhaseCommitSink<T, KafkaTransaction> template(KafkaSink<T> config,
                                                                        KafkaTransactionHandler<T> handler) {
        TwoPhaseCommitSink.Builder<T, KafkaTransaction> builder = TwoPhaseCommitSink.builder(handler);
        if (config.ignoreFailuresAfterTransactionTimeout) {
            // the timeout is the broker's maximum unless set: known once validate() asked the broker
            builder.ignoreFailuresAfterTransactionTimeout(config::transactionTimeout);
        }
        return builder.build();
    }

    /**
     * The sink's checks ask the broker with the Admin client its writers and a restart's calls use next: created
     * once, in the background, and still open (for
     * {@link io.onceflow.kafka.internal.SharedAdmin#LINGER}) when the tasks start.
     */
    @Override
    public void validate(Context context) throws Exception {
        config.validate(context, handler.sharedAdmin());
        super.validate(context);
    }

    /** The handler whose Admin client the checks use (for the tests). */
    KafkaTransactionHandler<T> handler() {
        return handler;
    }

    @Override
    public String toString() {
        return "KafkaSink(EXACTLY_ONCE, prefix " + config.transactionalIdPrefix + ")";
    }
}
