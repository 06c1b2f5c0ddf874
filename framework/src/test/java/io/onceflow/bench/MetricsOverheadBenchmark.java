package io.onceflow.bench;

import io.onceflow.api.JobClient;
import io.onceflow.api.StreamEnvironment;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the Prometheus endpoint costs: the pipeline of {@link PipelineBenchmark} (source → flatMap → keyBy →
 * count → discarding sink, parallelism 2, exactly-once checkpoints every second) with the endpoint off,
 * and with it on and scraped every second as Prometheus would, interleaved in the same run (5 rounds,
 * median) so the ratio holds on a noisy machine. Run with {@code mvn -q -pl framework test-compile exec:java
 * -Dexec.classpathScope=test -Dexec.mainClass=io.onceflow.bench.MetricsOverheadBenchmark} (optional argument:
 * lines per run, default 30,000,000 lines of 4 words, about 10 s a run here).
 */
public final class MetricsOverheadBenchmark {

    private MetricsOverheadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long lines = args.length > 0 ? Long.parseLong(args[0]) : 30_000_000;
        System.out.printf(Locale.ROOT, "Metrics endpoint overhead: %,d lines x 4 words, parallelism 2, 1 s checkpoints, %d cores%n",
                lines, Runtime.getRuntime().availableProcessors());
        run("warm-up", lines / 4, false);
        List<Double> off = new ArrayList<>();
        List<Double> on = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            off.add(run("endpoint off", lines, false));
            on.add(run("endpoint on, scraped 1/s", lines, true));
        }
        double offMedian = median(off);
        double onMedian = median(on);
        System.out.println();
        System.out.printf(Locale.ROOT, "| %-26s | %14s | %8s |%n", "configuration", "words/s (median)", "vs off");
        System.out.println("| --- | ---: | ---: |");
        System.out.printf(Locale.ROOT, "| %-26s | %,16.0f | %7.1f%% |%n", "endpoint off", offMedian, 100.0);
        System.out.printf(Locale.ROOT, "| %-26s | %,16.0f | %7.1f%% |%n", "endpoint on, scraped 1/s", onMedian,
                100 * onMedian / offMedian);
        System.out.printf(Locale.ROOT, "overhead %.1f%% (5 interleaved rounds each)%n", 100 * (1 - onMedian / offMedian));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(Double::compare);
        return sorted.get(sorted.size() / 2);
    }

    private static double run(String name, long lines, boolean endpoint) throws Exception {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(2);
        env.enableCheckpointing(Duration.ofSeconds(1));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        if (endpoint) {
            env.enableMetricsEndpoint(0);
        }
        env.fromSource(new PipelineBenchmark.LineSource(lines), "lines").uid("source")
                .flatMap(new PipelineBenchmark.Split()).uid("split")
                .keyBy(w -> w)
                .count().uid("count")
                .sinkTo(new PipelineBenchmark.DiscardingSink<>()).uid("sink");
        long start = System.nanoTime();
        JobClient job = env.executeAsync("metrics-overhead");
        AtomicBoolean scraping = new AtomicBoolean(endpoint);
        AtomicLong scrapes = new AtomicLong();
        Thread scraper = new Thread(() -> {
            HttpClient http = HttpClient.newHttpClient();
            while (scraping.get()) {
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                            + job.getMetricsPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        scrapes.incrementAndGet();
                    }
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                } catch (Exception e) {
                    // the job just ended
                }
            }
        }, "scraper");
        if (endpoint) {
            scraper.start();
        }
        job.awaitTermination(null);
        double seconds = (System.nanoTime() - start) / 1e9;
        scraping.set(false);
        scraper.interrupt();
        double rate = job.getMetrics().numRecordsOut() / seconds;
        System.out.printf(Locale.ROOT, "  %-26s %,12d words in %6.2f s = %,12.0f words/s%s%n", name,
                job.getMetrics().numRecordsOut(), seconds, rate, endpoint ? ", " + scrapes.get() + " scrapes" : "");
        return rate;
    }
}
