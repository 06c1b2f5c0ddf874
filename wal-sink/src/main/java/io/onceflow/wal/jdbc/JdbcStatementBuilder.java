package io.onceflow.wal.jdbc;

import java.io.Serializable;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/** Sets the parameters of the sink's statement from one record. */
@FunctionalInterface
public interface JdbcStatementBuilder<T> extends Serializable {

    void accept(PreparedStatement statement, T value) throws SQLException;
}
