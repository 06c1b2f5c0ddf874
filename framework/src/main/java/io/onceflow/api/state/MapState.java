package io.onceflow.api.state;

import java.util.Map;

/** A map per key. */
public interface MapState<UK, UV> {

    UV get(UK key) throws Exception;

    void put(UK key, UV value) throws Exception;

    void putAll(Map<UK, UV> map) throws Exception;

    void remove(UK key) throws Exception;

    boolean contains(UK key) throws Exception;

    /** The entries of the current key's map; empty, never null, when there are none. */
    Iterable<Map.Entry<UK, UV>> entries() throws Exception;

    boolean isEmpty() throws Exception;

    void clear();
}
