package io.onceflow.runtime.state;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Prints the key group of each sample key, one per line: run in another JVM by {@link StableKeysTest}. */
public final class KeyGroupsMain {

    record Point(String name, int x) {
    }

    private KeyGroupsMain() {
    }

    /** Keys of every kind keyBy accepts; fresh objects on every call, as a restarted process would have. */
    static List<Object> sampleKeys() {
        List<Object> keys = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            keys.add("word-" + i);
            keys.add((long) i * 7919);
            keys.add(i);
            keys.add(i / 3.0);
            keys.add(("bytes-" + i).getBytes(StandardCharsets.UTF_8));
            keys.add(new Point("p" + i, i));
            keys.add(List.of("a" + i, "b"));
        }
        keys.add(true);
        keys.add("héllo wörld");
        return keys;
    }

    static List<Integer> keyGroups(int maxParallelism) {
        List<Integer> groups = new ArrayList<>();
        for (Object key : sampleKeys()) {
            groups.add(KeyGroups.keyGroupFor(key, maxParallelism));
        }
        return groups;
    }

    public static void main(String[] args) {
        for (int g : keyGroups(Integer.parseInt(args[0]))) {
            System.out.println(g);
        }
    }
}
