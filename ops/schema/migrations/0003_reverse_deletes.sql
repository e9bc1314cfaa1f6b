-- Reverse replication (ops/reverse): the newest version at which each item was deleted, so a stream
-- record delivered again or out of order cannot bring a deleted row back or roll a row back.
CREATE TABLE reverse_deletes (
    table_name text   NOT NULL,
    item_pk    text   NOT NULL,
    item_sk    text   NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (table_name, item_pk, item_sk)
);
