package io.onceflow.sinks.jdbc;

/**
 * Turns a record into one row: the values of the sink's columns, in the order they were given. A
 * mapper that throws fails the job, naming the record.
 */
@FunctionalInterface
public interface JdbcRowMapper<T> {
    Object[] toRow(T record) throws Exception;
}
