-- A tenant's spending budget: picodollars per period (NULL: none), and the period
-- ('day' and 'month' are UTC calendar periods; 'total' never resets).
ALTER TABLE tenants ADD COLUMN budget BIGINT;
ALTER TABLE tenants ADD COLUMN budget_period TEXT;
