package io.onceflow.kafka.sink.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Properties;
import java.util.Set;
import javax.management.ObjectName;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;

/**
 * The sink's and source's own Admin clients ({@link TransactionalProducer#adminProperties}): the producer's or
 * consumer's connection settings, and neither a JMX bean per metric nor the push of client metrics, which nobody
 * reads for these clients and which cost a restarted process's first client its time.
 */
class AdminPropertiesTest {

    @Test
    void keepsTheConnectionSettingsAndLeavesMetricsReportersAndPushOut() {
        Properties admin = adminOf(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "broker:9092",
                ProducerConfig.CLIENT_ID_CONFIG, "the-sink", ProducerConfig.LINGER_MS_CONFIG, "20",
                "security.protocol", "SASL_SSL");
        assertEquals("broker:9092", admin.get(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG));
        assertEquals("SASL_SSL", admin.get("security.protocol"));
        assertFalse(admin.containsKey(ProducerConfig.LINGER_MS_CONFIG), "not an Admin setting");
        assertFalse(admin.containsKey(AdminClientConfig.CLIENT_ID_CONFIG), "each Admin client gets its own");
        assertEquals("", admin.get(AdminClientConfig.METRIC_REPORTER_CLASSES_CONFIG));
        assertEquals("false", admin.get(AdminClientConfig.ENABLE_METRICS_PUSH_CONFIG));
    }

    @Test
    void reportersAndPushTheUserSetAreKept() {
        Properties admin = adminOf(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "broker:9092",
                ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG, "org.apache.kafka.common.metrics.JmxReporter",
                ProducerConfig.ENABLE_METRICS_PUSH_CONFIG, "true");
        assertEquals("org.apache.kafka.common.metrics.JmxReporter",
                admin.get(AdminClientConfig.METRIC_REPORTER_CLASSES_CONFIG));
        assertEquals("true", admin.get(AdminClientConfig.ENABLE_METRICS_PUSH_CONFIG));
    }

    @Test
    void suchAnAdminClientRegistersNoMetricsBeansWhereADefaultOneDoes() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // nothing listens there: the clients are made, never asked anything
        }
        Properties producer = new Properties();
        producer.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port);
        Properties ours = TransactionalProducer.adminProperties(producer);
        ours.put(AdminClientConfig.CLIENT_ID_CONFIG, "admin-properties-test-ours");
        Properties plain = new Properties();
        plain.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port);
        plain.put(AdminClientConfig.CLIENT_ID_CONFIG, "admin-properties-test-plain");
        try (Admin a = Admin.create(ours); Admin b = Admin.create(plain)) {
            assertTrue(metricsBeans("admin-properties-test-plain").size() > 0,
                    "a default Admin client registers its metrics as JMX beans (the check's control)");
            assertEquals(Set.of(), metricsBeans("admin-properties-test-ours"));
            a.close(Duration.ZERO);
            b.close(Duration.ZERO);
        }
    }

    /** {@link TransactionalProducer#adminProperties} of producer properties given as key, value, key, value... */
    private static Properties adminOf(String... keysAndValues) {
        Properties producer = new Properties();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            producer.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return TransactionalProducer.adminProperties(producer);
    }

    private static Set<ObjectName> metricsBeans(String clientId) throws Exception {
        return ManagementFactory.getPlatformMBeanServer()
                .queryNames(new ObjectName("kafka.admin.client:type=admin-client-metrics,client-id=" + clientId),
                        null);
    }
}
