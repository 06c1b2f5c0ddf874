package io.onceflow.runtime.state;

/** An inclusive range of key groups owned by one subtask. */
public record KeyGroupRange(int start, int end) {

    public static final KeyGroupRange EMPTY = new KeyGroupRange(0, -1);

    public boolean contains(int keyGroup) {
        return keyGroup >= start && keyGroup <= end;
    }

    public boolean isEmpty() {
        return end < start;
    }

    public boolean intersects(KeyGroupRange other) {
        return !isEmpty() && !other.isEmpty() && start <= other.end && other.start <= end;
    }

    public int size() {
        return isEmpty() ? 0 : end - start + 1;
    }

    // equals and hashCode written out: a record's own are linked through method handles at their first call,
    // milliseconds of a cold JVM each (a restore compares ranges); see RecordMethodsAtStartTest
    @Override
    public boolean equals(Object o) {
        return o instanceof KeyGroupRange r && r.start == start && r.end == end;
    }

    @Override
    public int hashCode() {
        return 31 * start + end;
    }
}
