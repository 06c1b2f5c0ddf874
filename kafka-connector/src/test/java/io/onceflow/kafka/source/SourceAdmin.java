package io.onceflow.kafka.source;

import io.onceflow.kafka.internal.SharedAdmin;

/** For the tests outside this package: the Admin client a Kafka source's readers use. */
public final class SourceAdmin {

    private SourceAdmin() {
    }

    public static SharedAdmin of(KafkaSource<?> source) {
        return source.sharedAdmin();
    }
}
