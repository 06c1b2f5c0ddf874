package io.onceflow.twophase.jdbc;

import java.io.Serializable;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/** Sets the parameters of the XA sink's statement from one record. */
@FunctionalInterface
public interface JdbcStatementFiller<T> extends Serializable {

    void accept(PreparedStatement statement, T value) throws SQLException;
}
