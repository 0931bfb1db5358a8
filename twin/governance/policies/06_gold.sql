-- What protects the published gold tables. Every table with customer-level rows gets the row policy.
ALTER TABLE gold.customer_360 ADD ROW ACCESS POLICY advisor_filter ON (department);
ALTER TABLE gold.accounts ADD ROW ACCESS POLICY advisor_filter ON (department);
ALTER TABLE gold.portfolio_daily ADD ROW ACCESS POLICY advisor_filter ON (department);
ALTER TABLE gold.compliance_transactions ADD ROW ACCESS POLICY advisor_filter ON (department);

ALTER TABLE gold.customer_360 MODIFY COLUMN ssn SET MASKING POLICY ssn_mask;
ALTER TABLE gold.customer_360 MODIFY COLUMN ssn SET TAG pii = 'ssn';
ALTER TABLE gold.customer_360 MODIFY COLUMN email SET TAG pii = 'email';
ALTER TABLE gold.customer_360 MODIFY COLUMN phone SET TAG pii = 'phone';
ALTER TABLE gold.accounts MODIFY COLUMN account_number SET TAG pii = 'account_number';
ALTER TABLE gold.accounts MODIFY COLUMN balance SET MASKING POLICY balance_mask;
