-- Snowflake's recommended row access pattern: a mapping table says which role sees which department.
-- Roles absent from the table (EXTERNAL_BI_TOOL, ANALYST, …) see no row-level customer data.
CREATE OR REPLACE TABLE governance.role_department_map (role_name VARCHAR, department VARCHAR);
INSERT INTO governance.role_department_map VALUES
  ('WEALTH_ADVISOR', 'Wealth'),
  ('RETAIL_TELLER', 'Retail');
