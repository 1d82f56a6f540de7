-- The forecast movement since a past day reads the deals that changed
-- since then and could add to the period's forecast: some version open
-- with its close date in the period, or won within it. Without these, a
-- day far back meant reading every deal changed since (nearly all of
-- them); with them, the deals of the period. Team and rep are in the
-- indexes so a team's or a rep's movement filters without reading rows.
CREATE INDEX reporting_opportunity_history_close
    ON reporting_opportunity_history (close_date, team_id, rep_id, opportunity_id);
CREATE INDEX reporting_opportunity_history_won
    ON reporting_opportunity_history (at_ms, team_id, rep_id, opportunity_id) WHERE status = 'won';
