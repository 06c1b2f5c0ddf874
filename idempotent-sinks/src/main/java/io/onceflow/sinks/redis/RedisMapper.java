package io.onceflow.sinks.redis;

import java.io.Serializable;

/** Makes the Redis write of one record, e.g. {@code kv -> RedisWrite.set("counts:" + kv.key(), kv.value())}. */
@FunctionalInterface
public interface RedisMapper<T> extends Serializable {

    /** The write for {@code record}; never null. */
    RedisWrite map(T record);
}
