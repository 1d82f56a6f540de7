-- A deal's forecast category as its owner set it: '' means the stage's
-- default (see Pipeline::forecast_category).
ALTER TABLE opps_opportunities ADD COLUMN forecast_category TEXT NOT NULL DEFAULT '';
