package io.onceflow.kafka.broker;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;

/**
 * Topics that can be written at once. A topic is created when the controller says so, a moment before its
 * leader can take records: a producer that writes in that moment gets {@code NOT_LEADER_OR_FOLLOWER}, and an
 * idempotent one has been seen to stay stuck after it, every retry rejected as out of sequence, until its
 * records expire. So after creating, this waits until every partition's leader answers for it.
 */
public final class Topics {

    private Topics() {
    }

    /** Creates the topics with {@code partitions} partitions each (replication 1), then waits until each can be written. */
    public static void create(Admin admin, int partitions, String... topics)
            throws ExecutionException, InterruptedException, TimeoutException {
        List<NewTopic> create = new ArrayList<>();
        for (String topic : topics) {
            create.add(new NewTopic(topic, partitions, (short) 1));
        }
        admin.createTopics(create).all().get(30, TimeUnit.SECONDS);
        awaitLeaders(admin, partitions, topics);
    }

    /**
     * Waits until the leader of every partition of the topics answers a request for its end offset (asking
     * again while the topic is not yet in the metadata or its leader not ready, up to a minute), so the first
     * records written to them are taken. First waits until the metadata lists every partition with a leader
     * ({@code describeTopics}, whose "unknown topic" comes back quietly through its result): asked about a topic
     * it does not know yet, the Admin client's end-offset request logs an ERROR with a stack trace before this
     * asks again, which a user watching a command create its topics would take for a failure.
     */
    public static void awaitLeaders(Admin admin, int partitions, String... topics)
            throws ExecutionException, InterruptedException, TimeoutException {
        Map<TopicPartition, OffsetSpec> all = new HashMap<>();
        for (String topic : topics) {
            for (int p = 0; p < partitions; p++) {
                all.put(new TopicPartition(topic, p), OffsetSpec.latest());
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                if (listedWithLeaders(admin, partitions, topics)) {
                    admin.listOffsets(all).all().get(60, TimeUnit.SECONDS);
                    return;
                }
            } catch (ExecutionException e) {
                // not in the metadata yet, or the leader listed but not ready to answer
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.RetriableException)
                        || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("The topics " + List.of(topics) + " have no leader for each of their "
                        + partitions + " partitions a minute after they were created");
            }
            Thread.sleep(50);
        }
    }

    /** Whether the metadata lists {@code partitions} partitions with a leader for each topic. */
    private static boolean listedWithLeaders(Admin admin, int partitions, String[] topics)
            throws ExecutionException, InterruptedException, TimeoutException {
        Map<String, TopicDescription> described =
                admin.describeTopics(List.of(topics)).allTopicNames().get(60, TimeUnit.SECONDS);
        for (TopicDescription d : described.values()) {
            if (d.partitions().size() < partitions
                    || d.partitions().stream().anyMatch(p -> p.leader() == null || p.leader().isEmpty())) {
                return false;
            }
        }
        return true;
    }
}
