-- forecast_below_quota: the period checked, how far into it (percent) and
-- the share of quota (percent) below which a forecast alerts.
ALTER TABLE alerting_rules ADD COLUMN period TEXT NOT NULL DEFAULT '';
ALTER TABLE alerting_rules ADD COLUMN check_at_percent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerting_rules ADD COLUMN threshold_percent BIGINT NOT NULL DEFAULT 0;
