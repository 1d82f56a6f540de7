-- Offers are read by state only while open (the timers' next deadlines,
-- a rep's open offers and load), so the two indexes hold open offers
-- alone. Before, closing an offer moved its entries in both indexes to
-- its final state, where nothing reads them: two index inserts per claim,
-- pass or expiry, and indexes growing with every offer ever made.
DROP INDEX wheel_offers_due;
DROP INDEX wheel_offers_rep;
CREATE INDEX wheel_offers_open_due ON wheel_offers (deadline_ms) WHERE state = 'open';
CREATE INDEX wheel_offers_open_rep ON wheel_offers (rep_id, deadline_ms) WHERE state = 'open';
