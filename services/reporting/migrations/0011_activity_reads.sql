-- The activity report's extras read, per converted lead, the touches at or
-- before its conversion and, per follow-up, the first touch after it was
-- set; and the conversions of a period. Through the primary keys alone,
-- each per-item read walked all of that item's touches and fetched each
-- row for its time, and the period's conversions were found among every
-- conversion ever counted. These two indexes answer each from the index:
-- a count or a minimum over one item's times, and one period's
-- conversions with the columns the report shows.
CREATE INDEX reporting_touches_at ON reporting_touches (item, at_ms);
CREATE INDEX reporting_counted_day ON reporting_counted (metric, day, team_id, rep_id, at_ms, fact_key);
