import React from 'react';
import { Route, Routes } from 'react-router-dom';
import type { AppRootProps } from '@grafana/data';
import { ModelsPage } from '../../pages/ModelsPage';

/** The app's pages: the model list is the only page (and the default for any path under the app). */
function App(_props: AppRootProps) {
  return (
    <Routes>
      <Route path="*" element={<ModelsPage />} />
    </Routes>
  );
}

export default App;
