-- Node ids for the time-ordered id generator are leased, not counted out. Each
-- process took `nextval('ledger_node_seq') % 1024` at start, so after 1,024 starts
-- a new process could share a node id with a live one and mint the same ids. Now a
-- process holds its node id under a lease in this table (store::node_lease): it
-- takes a free or expired row, renews it while it runs, and marks it expired when it
-- stops. A crashed process's id is taken again only once its lease has ended. The
-- sequence stays: it spreads concurrent starters over the ids never used.
--
-- Operational state, not event-sourced; unlike the other operational tables it is not
-- safe to lose while processes run (their ids would be handed out again).
CREATE TABLE node_leases
(
    node_id    smallint    PRIMARY KEY CHECK (node_id BETWEEN 0 AND 1023),
    -- Who holds (or last held) it: host, process id and a random token per start.
    holder     text        NOT NULL,
    -- Until when, by the database's clock; a released lease ends at its release.
    expires_at timestamptz NOT NULL
);
