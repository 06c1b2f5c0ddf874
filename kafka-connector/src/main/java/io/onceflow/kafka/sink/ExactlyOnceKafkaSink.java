package io.onceflow.kafka.sink;

import io.onceflow.twophase.ForwardingTwoPhaseCommitSink;
import io.onceflow.twophase.TwoPhaseCommitSink;

/** An EXACTLY_ONCE {@link KafkaSink}: Kafka transactions on the two-phase-commit template. */
final class ExactlyOnceKafkaSink<T> extends ForwardingTwoPhaseCommitSink<T, KafkaTransaction> {

    private final KafkaSink<T> config;

    ExactlyOnceKafkaSink(KafkaSink<T> config) {
        super(template(config));
        this.config = config;
    }

    private static <T> TwoPhaseCommitSink<T, KafkaTransaction> template(KafkaSink<T> config) {
        TwoPhaseCommitSink.Builder<T, KafkaTransaction> builder = TwoPhaseCommitSink.builder(new KafkaTransactionHandler<>(config));
        if (config.ignoreFailuresAfterTransactionTimeout) {
            // the timeout is the broker's maximum unless set: known once validate() asked the broker
            builder.ignoreFailuresAfterTransactionTimeout(config::transactionTimeout);
        }
        return builder.build();
    }

    @Override
    public void validate(Context context) throws Exception {
        config.validate(context);
        super.validate(context);
    }

    @Override
    public String toString() {
        return "KafkaSink(EXACTLY_ONCE, prefix " + config.transactionalIdPrefix + ")";
    }
}
