package io.onceflow.sinks.jdbc;

import io.onceflow.api.metrics.MetricGroup;
import io.onceflow.api.sink.SinkInitContext;
import java.util.OptionalLong;

/** A sink context for driving a writer directly, with counters the test can read. */
public final class TestContexts {

    private TestContexts() {
    }

    public static SinkInitContext context(MetricGroup metrics) {
        return new SinkInitContext() {
            @Override
            public int getIndexOfSubtask() {
                return 0;
            }

            @Override
            public int getParallelism() {
                return 1;
            }

            @Override
            public String getOperatorUid() {
                return "upsert";
            }

            @Override
            public String getJobName() {
                return "test";
            }

            @Override
            public int getAttemptNumber() {
                return 0;
            }

            @Override
            public OptionalLong getRestoredCheckpointId() {
                return OptionalLong.empty();
            }

            @Override
            public MetricGroup getMetricGroup() {
                return metrics;
            }
        };
    }
}
