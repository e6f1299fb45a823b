"""Analysis: pure functions of the results store. Seed statistics (stats), scaling fits (fits), the
verdict (verdict), leaderboards (leaderboard), comparisons of two results (compare) and the report
page (report)."""
