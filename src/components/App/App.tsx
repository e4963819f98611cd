import React from 'react';
import { Route, Routes } from 'react-router-dom';
import type { AppRootProps } from '@grafana/data';
import { ModelsPage } from '../../pages/ModelsPage';
import { RunbookPage } from '../../pages/RunbookPage';
import { ROUTES } from '../../constants';

/** The app's pages: the alerting runbook, and the model list (the default for any other path under the app). */
function App(_props: AppRootProps) {
  return (
    <Routes>
      <Route path={ROUTES.Runbook} element={<RunbookPage />} />
      <Route path="*" element={<ModelsPage />} />
    </Routes>
  );
}

export default App;
