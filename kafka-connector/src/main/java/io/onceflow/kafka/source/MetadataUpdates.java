package io.onceflow.kafka.source;

import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.ClusterResource;
import org.apache.kafka.common.ClusterResourceListener;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * A reader's consumer's key deserializer (bytes as they are), which also counts the consumer's metadata updates: a
 * {@link ClusterResourceListener} among a client's deserializers is called after each metadata response, and after
 * each change of leaders taken from a fetch response, within the update and before the client builds a request
 * on the updated metadata (see {@link KafkaSourceReader#confirmSnapshot}).
 */
final class MetadataUpdates extends ByteArrayDeserializer implements ClusterResourceListener {

    private final AtomicLong updates = new AtomicLong();

    @Override
    public void onUpdate(ClusterResource clusterResource) {
        updates.incrementAndGet();
    }

    /** How many times the consumer's metadata was updated so far. */
    long count() {
        return updates.get();
    }
}
