-- Row access by department through the mapping table; admins and auditors see every row.
CREATE OR REPLACE ROW ACCESS POLICY advisor_filter AS (dept STRING) RETURNS BOOLEAN ->
  IS_ROLE_IN_SESSION('WEALTH_ADMIN')
  OR IS_ROLE_IN_SESSION('COMPLIANCE_AUDITOR')
  OR EXISTS (
    SELECT 1 FROM governance.role_department_map m
    WHERE IS_ROLE_IN_SESSION(m.role_name) AND m.department = dept
  )
  COMMENT = 'Department-scoped row access (advisors: Wealth, tellers: Retail)';
