package io.onceflow.kafka.source;

import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.Metadata;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The topic ids a {@link KafkaConsumer} fetches by: those of its own metadata, which its fetch requests name
 * (fetch version 13 and later) and which the partition's leader answers only for the topic that has that id.
 * <p>Why a reader asks its consumer as well as the cluster: an Admin client's {@code DescribeTopics} goes to any
 * broker, and a broker whose metadata lags behind a topic's deletion and creation (one that is slow to catch up,
 * or cut off from the controller until its session times out) still answers with the old topic's id, while the
 * consumer, whose metadata came from another broker, already reads the new topic at the old topic's offsets. A
 * topic counts as created again when either says so.
 * <p>kafka-clients keeps the consumer's metadata to itself: it is read here through the consumer's delegate
 * ({@code ClassicKafkaConsumer} or {@code AsyncKafkaConsumer}, each with a {@code metadata} field of type {@link
 * Metadata}, whose {@code topicIds()} is public). Should a kafka-clients version lay them out otherwise, this says
 * so once and answers nothing, and the readers check the ids with the cluster's answers alone, as before.
 */
final class FetchedTopicIds {
    private static final Logger LOG = LoggerFactory.getLogger(FetchedTopicIds.class);
    private static final Field DELEGATE = delegateField();
    private static final ClassValue<Field> METADATA = new ClassValue<>() {
        @Override
        protected Field computeValue(Class<?> type) {
            for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (f.getName().equals("metadata") && Metadata.class.isAssignableFrom(f.getType())) {
                        f.setAccessible(true);
                        return f;
                    }
                }
            }
            return null;
        }
    };
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private FetchedTopicIds() {
    }

    private static Field delegateField() {
        try {
            Field f = KafkaConsumer.class.getDeclaredField("delegate");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /**
     * The ids of the topics in {@code consumer}'s metadata, by name (a topic the broker gave no id is left out or
     * has {@link Uuid#ZERO_UUID}); empty if they cannot be read, or if there is no consumer (yet).
     */
    static Map<String, Uuid> of(KafkaConsumer<?, ?> consumer) {
        if (consumer == null) {
            return Map.of();
        }
        try {
            Object delegate = DELEGATE == null ? null : DELEGATE.get(consumer);
            Field metadata = delegate == null ? null : METADATA.get(delegate.getClass());
            if (metadata != null) {
                Map<String, Uuid> ids = ((Metadata) metadata.get(delegate)).topicIds();
                if (ids != null) {
                    return new HashMap<>(ids); // a copy: a checkpoint's question compares it on another thread
                }
            }
            warnOnce("its layout differs from that of the versions tested (4.3.x)");
        } catch (ReflectiveOperationException | RuntimeException e) {
            warnOnce(e.toString());
        }
        return Map.of();
    }

    private static void warnOnce(String why) {
        if (WARNED.compareAndSet(false, true)) {
            LOG.warn("Kafka source readers cannot read the topic ids their consumers fetch by ({}): a topic deleted "
                    + "and created again is told by the brokers' answers alone, which a broker whose metadata lags "
                    + "behind the deletion can give wrongly", why);
        }
    }
}
