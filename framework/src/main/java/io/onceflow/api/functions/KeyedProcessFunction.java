package io.onceflow.api.functions;

/**
 * Processes the records of a keyed stream one at a time, with keyed state scoped to the record's key.
 *
 * <pre>{@code
 * class RunningCount extends KeyedProcessFunction<String, String, String> {
 *     private ValueState<Long> count;
 *     public void open(RuntimeContext ctx) { count = ctx.getState(new ValueStateDescriptor<>("count", Long.class)); }
 *     public void processElement(String word, Context ctx, Collector<String> out) throws Exception {
 *         long n = count.value() == null ? 1 : count.value() + 1;
 *         count.update(n);
 *         out.collect(word + "," + n);
 *     }
 * }
 * }</pre>
 */
public abstract class KeyedProcessFunction<K, IN, OUT> implements RichFunction {

    public abstract void processElement(IN value, Context<K> ctx, Collector<OUT> out) throws Exception;

    /** What {@link #processElement} can see besides the record. */
    public interface Context<K> {
        K getCurrentKey();
    }
}
